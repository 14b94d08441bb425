// The statistics of pai's reports: means with Student-t confidence intervals over seeds, paired
// differences between two arms that share their seeds, the verdict an interval supports, and the
// rank correlation and mask overlap of the mask-level analysis.
//
// Seeds pair the runs of a study: one seed fixes the initialisation, the validation split, the mask
// images and the data order of every criterion. So two criteria are compared by their per-seed
// differences, whose spread leaves out what the seeds share; an interval over the differences is
// usually much narrower than the two cells' intervals side by side.

import jStat from 'jstat';

/** A mean with its two-sided confidence interval (t distribution, n − 1 degrees of freedom). */
export interface Interval {
  mean: number;
  /** Sample standard deviation (n − 1 in the denominator); null for one value. */
  std: number | null;
  n: number;
  /** Half-width of the interval; null when n < 2 (no interval). */
  half: number | null;
  lo: number;
  hi: number;
  /** The confidence level, e.g. 0.95. */
  level: number;
}

/** Student's t quantile for a two-sided interval at `level` with `dof` degrees of freedom. */
export function tCritical(level: number, dof: number): number {
  if (!(level > 0 && level < 1)) throw new RangeError(`tCritical: level must be in (0, 1), got ${level}`);
  if (!(Number.isInteger(dof) && dof >= 1)) throw new RangeError(`tCritical: degrees of freedom must be a positive integer, got ${dof}`);
  return jStat.studentt.inv(1 - (1 - level) / 2, dof);
}

/** The mean of `values` with its `level` confidence interval; null for no values. */
export function meanInterval(values: readonly number[], level = 0.95): Interval | null {
  const n = values.length;
  if (n === 0) return null;
  for (const v of values) if (!Number.isFinite(v)) throw new RangeError(`meanInterval: value ${v} is not finite`);
  const mean = values.reduce((a, b) => a + b, 0) / n;
  if (n === 1) return { mean, std: null, n, half: null, lo: mean, hi: mean, level };
  const std = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1));
  const half = tCritical(level, n - 1) * std / Math.sqrt(n);
  return { mean, std, n, half, lo: mean - half, hi: mean + half, level };
}

/** The paired difference a − b over the seeds both arms have, with the seeds used. */
export interface PairedDifference extends Interval {
  seeds: number[];
}

/**
 * The mean of the per-seed differences a[seed] − b[seed] over the seeds present in both, with its
 * confidence interval; null when they share no seed.
 */
export function pairedDifference(a: ReadonlyMap<number, number>, b: ReadonlyMap<number, number>, level = 0.95): PairedDifference | null {
  const seeds = [...a.keys()].filter((s) => b.has(s)).sort((x, y) => x - y);
  const diffs: number[] = [];
  for (const s of seeds) {
    const x = a.get(s), y = b.get(s);
    if (x === undefined || y === undefined) continue;
    diffs.push(x - y);
  }
  const iv = meanInterval(diffs, level);
  return iv ? { ...iv, seeds } : null;
}

/**
 * What an interval of a difference says about the claim "it is positive": supported when the whole
 * interval lies above zero, refuted when it lies below, otherwise not resolved at this size (which
 * includes every single-seed difference: no interval, no verdict).
 */
export type Verdict = 'supported' | 'refuted' | 'not resolved';

/** The verdict of `iv` on the claim that the difference is positive. */
export function verdictOf(iv: Interval | null): Verdict {
  if (!iv || iv.half === null) return 'not resolved';
  if (iv.lo > 0) return 'supported';
  if (iv.hi < 0) return 'refuted';
  return 'not resolved';
}

/** "+1.23 [+0.45, +2.01]" in the given scale (default: percent points). */
export function fmtDifference(iv: Interval | null, o: { scale?: number; digits?: number } = {}): string {
  if (!iv) return '—';
  const k = o.scale ?? 100, d = o.digits ?? 2;
  const sgn = (v: number): string => `${v >= 0 ? '+' : '−'}${Math.abs(k * v).toFixed(d)}`;
  return iv.half === null ? `${sgn(iv.mean)} (one seed)` : `${sgn(iv.mean)} [${sgn(iv.lo)}, ${sgn(iv.hi)}]`;
}

/** "91.23 ± 0.45" (mean ± CI half-width) in the given scale; "(n=k)" when fewer than maxN values. */
export function fmtInterval(iv: Interval | null, o: { scale?: number; digits?: number; maxN?: number } = {}): string {
  if (!iv) return '—';
  const k = o.scale ?? 100, d = o.digits ?? 2;
  const core = iv.half === null ? (k * iv.mean).toFixed(d) : `${(k * iv.mean).toFixed(d)} ± ${(k * iv.half).toFixed(d)}`;
  return o.maxN !== undefined && iv.n < o.maxN ? `${core} (n=${iv.n})` : core;
}

/** Ranks 1..n of `v`, ties sharing the mean of their ranks. */
export function ranks(v: ArrayLike<number>): Float64Array {
  const n = v.length;
  const idx = new Uint32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  const val = (i: number): number => {
    const x = v[i];
    if (x === undefined || Number.isNaN(x)) throw new RangeError(`ranks: value ${i} is ${x}`);
    return x;
  };
  idx.sort((a, b) => val(a) - val(b));
  const out = new Float64Array(n);
  let i = 0;
  while (i < n) {
    let j = i;
    const vi = val(idx[i] ?? 0);
    while (j + 1 < n && val(idx[j + 1] ?? 0) === vi) j++;
    const r = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) out[idx[k] ?? 0] = r;
    i = j + 1;
  }
  return out;
}

/** Pearson's correlation of two equally long series; NaN when either is constant. */
export function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  if (b.length !== n) throw new RangeError(`pearson: lengths ${n} and ${b.length} differ`);
  let ma = 0, mb = 0;
  for (let i = 0; i < n; i++) { ma += a[i] ?? 0; mb += b[i] ?? 0; }
  ma /= n; mb /= n;
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < n; i++) {
    const x = (a[i] ?? 0) - ma, y = (b[i] ?? 0) - mb;
    sab += x * y; saa += x * x; sbb += y * y;
  }
  return saa === 0 || sbb === 0 ? NaN : sab / Math.sqrt(saa * sbb);
}

/** Spearman's rank correlation (Pearson's on the ranks, ties averaged). */
export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`spearman: lengths ${a.length} and ${b.length} differ`);
  return pearson(ranks(a), ranks(b));
}

/** Intersection over union of two 0/1 masks of equal length (1 when both keep nothing). */
export function maskIou(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`maskIou: lengths ${a.length} and ${b.length} differ`);
  let inter = 0, union = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] !== 0, y = b[i] !== 0;
    if (x && y) inter++;
    if (x || y) union++;
  }
  return union === 0 ? 1 : inter / union;
}
