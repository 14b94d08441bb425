// The study's questions as paired comparisons of trained runs.
//
// Every comparison is a claim "arm A − arm B > 0" about the headline accuracy (test top-1 at the
// best-validation epoch). Seeds pair the runs, so the evidence is the mean of the per-seed
// differences with its 95 % Student-t interval (stats.ts), and the verdict is "supported" where the
// interval lies above zero, "refuted" where it lies below, and "not resolved at this size"
// otherwise. An arm is one criterion, or the per-seed mean of a family of criteria (so that "the
// second-order criteria" is one number per seed). Comparisons whose arms the rows lack are left out.

import { DENSE, PAT, type RunSettings } from './config.js';
import type { ResultRow } from './store.js';
import { meanInterval, pairedDifference, verdictOf, type Interval, type PairedDifference, type Verdict } from './stats.js';

/** The first-order PaI criteria of the paper's comparison. */
export const FIRST_ORDER = ['grad_norm', 'snip', 'grasp'] as const;
/** The paper's scalable second-order criteria (Fisher and Hutchinson, plain and Taylor forms). */
export const SECOND_ORDER = ['fisher_pruner', 'fts', 'hutch_pruning', 'hts'] as const;
/** The Hutchinson criteria. */
export const HUTCHINSON = ['hutch_pruning', 'hts'] as const;
/** The other PaI criteria the Hutchinson ones are to match or beat. */
export const OTHER_PAI = ['random', 'magnitude', 'snip', 'grasp', 'synflow'] as const;
/** Criteria whose scores do not depend on data (one arm: no warm-up). */
export const DATA_FREE = ['random', 'magnitude', 'synflow', PAT] as const;
/** pai's exact Gauss-Newton criteria beside the Hutchinson ones they make exact. */
export const EXACT_PAIRS = [['ggn_pruning', 'hutch_pruning'], ['ggn_ts', 'hts']] as const;

/** One side of a comparison: a criterion or the per-seed mean of several, at a sparsity and arm. */
export interface Arm {
  label: string;
  criteria: readonly string[];
  /** The BN warm-up arm; data-free criteria have only `false`, whatever is asked. */
  warmup: boolean;
}

/** One claim "A − B > 0" and its evidence. */
export interface Comparison {
  question: number;
  sparsity: number;
  a: Arm;
  b: Arm;
  /** Per-seed differences a − b, their mean and 95 % interval (accuracy as a fraction). */
  difference: PairedDifference;
  verdict: Verdict;
  /**
   * For claims of a match (question 2's "match or beat", question 4's "reach"): the margin in
   * accuracy (0.01 = 1 point) and whether the interval's lower end lies above −margin, i.e. A is
   * not worse than B by more than the margin. Absent for the other questions.
   */
  match?: { margin: number; holds: boolean };
}

/** The margin of the questions that ask for a match: 1 accuracy point. */
export const MATCH_MARGIN = 0.01;

function withMatch(c: Comparison | null, margin = MATCH_MARGIN): Comparison | null {
  if (!c) return null;
  const d = c.difference;
  return { ...c, match: { margin, holds: d.half !== null && d.lo > -margin } };
}

/** Per-seed headline accuracy of one criterion at one sparsity and arm. */
export type BySeed = Map<number, number>;

/** The rows of one setting (one model, dataset and training recipe), indexed for the comparisons. */
export class Cells {
  private readonly cells = new Map<string, BySeed>();
  readonly sparsities: number[];
  readonly criteria: Set<string>;

  constructor(rows: readonly ResultRow[], headline: (r: ResultRow) => number | null) {
    const sp = new Set<number>();
    this.criteria = new Set();
    for (const r of rows) {
      const v = headline(r);
      if (v === null) continue;
      const s = r.settings;
      const k = Cells.key(s.criterion, s.sparsity, s.warmup);
      let c = this.cells.get(k);
      if (!c) { c = new Map(); this.cells.set(k, c); }
      c.set(s.seed, v);
      this.criteria.add(s.criterion);
      if (s.criterion !== DENSE) sp.add(s.sparsity);
    }
    this.sparsities = [...sp].sort((a, b) => a - b);
  }

  private static key(criterion: string, sparsity: number, warmup: boolean): string {
    return `${criterion}|${criterion === DENSE ? 0 : sparsity}|${criterion === DENSE ? false : warmup}`;
  }

  /** Per-seed values of one criterion in an arm (data-free ones: the arm they have, when not this one). */
  of(criterion: string, sparsity: number, warmup: boolean): BySeed | undefined {
    const free = (DATA_FREE as readonly string[]).includes(criterion);
    return this.cells.get(Cells.key(criterion, sparsity, warmup)) ?? (free ? this.cells.get(Cells.key(criterion, sparsity, !warmup)) : undefined);
  }

  /** Per-seed mean over the arm's criteria, on the seeds all of them have; undefined if any is missing. */
  arm(a: Arm, sparsity: number): BySeed | undefined {
    const parts = a.criteria.map((c) => this.of(c, sparsity, a.warmup));
    if (parts.length === 0 || parts.some((p) => p === undefined)) return undefined;
    const maps = parts as BySeed[];
    const first = maps[0];
    if (!first) return undefined;
    const out: BySeed = new Map();
    for (const seed of first.keys()) {
      let sum = 0, ok = true;
      for (const m of maps) {
        const v = m.get(seed);
        if (v === undefined) { ok = false; break; }
        sum += v;
      }
      if (ok) out.set(seed, sum / maps.length);
    }
    return out;
  }

  /** Mean and interval of one criterion's cell. */
  interval(criterion: string, sparsity: number, warmup: boolean): Interval | null {
    const c = this.of(criterion, sparsity, warmup);
    return c ? meanInterval([...c.values()]) : null;
  }

  /** The claim a − b > 0 at a sparsity, or null when either arm is missing or they share no seed. */
  compare(question: number, a: Arm, b: Arm, sparsity: number): Comparison | null {
    const x = this.arm(a, sparsity), y = this.arm(b, sparsity);
    if (!x || !y) return null;
    const difference = pairedDifference(x, y);
    return difference ? { question, sparsity, a, b, difference, verdict: verdictOf(difference) } : null;
  }

  /** Whether every criterion of the list has rows. */
  has(criteria: readonly string[]): boolean {
    return criteria.every((c) => this.criteria.has(c));
  }
}

const one = (c: string, warmup: boolean): Arm => ({ label: `${c}${(DATA_FREE as readonly string[]).includes(c) ? '' : warmup ? ' +warm-up' : ''}`, criteria: [c], warmup });
const family = (label: string, criteria: readonly string[], warmup: boolean): Arm => ({ label: `${label}${warmup ? ' +warm-up' : ''}`, criteria, warmup });

/** The text of each question, by number. */
export const QUESTIONS: Readonly<Record<number, string>> = {
  1: 'Do the second-order criteria (fisher_pruner, fts, hutch_pruning, hts) beat the first-order ones (grad_norm, snip, grasp)?',
  2: 'Do the Hutchinson criteria (hutch_pruning, hts) match or beat every other PaI criterion (random, magnitude, snip, grasp, synflow)?',
  3: 'Does the BN warm-up improve the data-dependent criteria?',
  4: 'With the warm-up, does Hutchinson reach magnitude pruning after training (PaT)?',
  5: 'Does the exact Gauss-Newton diagonal (ggn_pruning, ggn_ts) beat its 10-probe Hutchinson estimate (hutch_pruning, hts)?',
};

/** The comparisons of questions 1-5 that the rows allow, in question and sparsity order. */
export function studyComparisons(cells: Cells): Comparison[] {
  const out: Comparison[] = [];
  const push = (c: Comparison | null): void => { if (c) out.push(c); };
  const dataDependent = [...cells.criteria].filter((c) => c !== DENSE && !(DATA_FREE as readonly string[]).includes(c));
  for (const s of cells.sparsities) {
    // 1: family means, in each warm-up arm.
    if (cells.has([...SECOND_ORDER, ...FIRST_ORDER])) {
      for (const w of [false, true]) push(cells.compare(1, family('second-order', SECOND_ORDER, w), family('first-order', FIRST_ORDER, w), s));
    }
    // 2: each Hutchinson criterion with the warm-up (the paper's recipe) against each other criterion,
    // the data-dependent ones with the warm-up too.
    for (const h of HUTCHINSON) {
      if (!cells.has([h])) continue;
      for (const o of OTHER_PAI) if (cells.has([o])) push(withMatch(cells.compare(2, one(h, true), one(o, true), s)));
    }
    // 3: warm-up on against off, each data-dependent criterion and their mean.
    for (const c of dataDependent) push(cells.compare(3, one(c, true), one(c, false), s));
    if (dataDependent.length > 1) push(cells.compare(3, family('data-dependent', dataDependent, true), family('data-dependent', dataDependent, false), s));
    // 4: Hutchinson with the warm-up against PaT.
    for (const h of HUTCHINSON) if (cells.has([h, PAT])) push(withMatch(cells.compare(4, one(h, true), one(PAT, false), s)));
    // 5: exact against estimated, in each arm.
    for (const [exact, est] of EXACT_PAIRS) {
      if (!cells.has([exact, est])) continue;
      for (const w of [false, true]) push(cells.compare(5, one(exact, w), one(est, w), s));
    }
  }
  return out.sort((x, y) => x.question - y.question || x.sparsity - y.sparsity);
}

/** Layer collapse with and without the warm-up: collapsed runs and fully pruned layers per cell. */
export interface CollapseComparison {
  criterion: string;
  sparsity: number;
  cold: { runs: number; collapsed: number; emptyLayers: number };
  warm: { runs: number; collapsed: number; emptyLayers: number };
  /** Per-seed difference in the number of fully pruned layers, warm − cold. */
  emptyDifference: PairedDifference | null;
}

/** The collapse part of question 3, for every data-dependent criterion and sparsity with both arms. */
export function collapseComparisons(rows: readonly ResultRow[]): CollapseComparison[] {
  const by = new Map<string, ResultRow[]>();
  const key = (s: Pick<RunSettings, 'criterion' | 'sparsity' | 'warmup'>): string => `${s.criterion}|${s.sparsity}|${s.warmup}`;
  for (const r of rows) {
    const k = key(r.settings);
    const list = by.get(k) ?? [];
    list.push(r);
    by.set(k, list);
  }
  const out: CollapseComparison[] = [];
  const seen = new Set<string>();
  for (const r of rows) {
    const { criterion, sparsity } = r.settings;
    if (criterion === DENSE || (DATA_FREE as readonly string[]).includes(criterion)) continue;
    const id = `${criterion}|${sparsity}`;
    if (seen.has(id)) continue;
    seen.add(id);
    const cold = by.get(key({ criterion, sparsity, warmup: false })), warm = by.get(key({ criterion, sparsity, warmup: true }));
    if (!cold || !warm) continue;
    const summary = (rs: ResultRow[]) => ({ runs: rs.length, collapsed: rs.filter((x) => x.collapsed).length, emptyLayers: rs.reduce((a, x) => a + x.emptyLayers.length, 0) / rs.length });
    const empty = (rs: ResultRow[]): Map<number, number> => new Map(rs.map((x) => [x.settings.seed, x.emptyLayers.length]));
    out.push({ criterion, sparsity, cold: summary(cold), warm: summary(warm), emptyDifference: pairedDifference(empty(warm), empty(cold)) });
  }
  return out.sort((a, b) => a.criterion.localeCompare(b.criterion) || a.sparsity - b.sparsity);
}
