// What every suite of `npm run bench` shares: the row format, the timing method (median of
// repetitions after one warm-up call, the same method bench/torch/bench.py uses), the output in
// both forms, and the optional PyTorch run of the identical workload.

import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jsBackend, nativeBackend, type Backend } from '../src/kernels/index.js';

export interface Row {
  suite: string;
  workload: string;
  backend: string;
  threads: number;
  ms: number;
  images_per_s?: number;
  gflops?: number;
  torch_ms?: number;
  /** pai's time over PyTorch's: below 1 means pai is faster. */
  ratio?: number;
  [extra: string]: unknown;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Median wall time (ms) of `reps` calls after one untimed warm-up call. */
export function timeMedian(fn: () => void, reps: number): number {
  fn();
  const ts: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    fn();
    ts.push(performance.now() - t0);
  }
  return median(ts);
}

export function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

// ---- PyTorch ----

// dist/bench/common.js -> the repository root, where bench/torch/*.py live (tsc does not copy them).
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const TORCH_SCRIPT = join(ROOT, 'bench', 'torch', 'bench.py');

export type TorchResult = Record<string, number | string>;

export interface Torch {
  /** null when PyTorch runs; otherwise why it was skipped, for the one-line message. */
  readonly skipped: string | null;
  /** Runs one workload in PyTorch; null (with the reason in `lastError`) when that run failed. */
  run(args: string[]): TorchResult | null;
  lastError: string | null;
}

/**
 * The PyTorch side, from PAI_TORCH_PYTHON (a Python with torch). A probe run checks that the
 * interpreter starts and imports torch before any workload, so that a missing torch costs one line
 * rather than one failure per workload.
 */
export function openTorch(env: NodeJS.ProcessEnv = process.env, timeoutS = 3600): Torch {
  const python = env['PAI_TORCH_PYTHON'];
  const call = (args: string[]): { out: TorchResult | null; err: string | null } => {
    const r = spawnSync(python!, [TORCH_SCRIPT, ...args], { encoding: 'utf8', timeout: timeoutS * 1000, maxBuffer: 64 << 20 });
    if (r.error) return { out: null, err: `${python}: ${r.error.message}` };
    if (r.status !== 0) return { out: null, err: `${python} exited with ${r.status ?? r.signal}: ${lastLine(r.stderr) || lastLine(r.stdout)}` };
    return parseTorchOutput(r.stdout);
  };
  if (!python) return { skipped: 'PAI_TORCH_PYTHON is not set (set it to a Python that has torch to compare)', run: () => null, lastError: null };
  const probe = call(['--probe']);
  if (!probe.out) return { skipped: `PAI_TORCH_PYTHON=${python} cannot run the PyTorch side: ${probe.err}`, run: () => null, lastError: probe.err };
  const t: Torch = {
    skipped: null,
    lastError: null,
    run(args) {
      const r = call(args);
      t.lastError = r.err;
      return r.out;
    },
  };
  return t;
}

function lastLine(s: string | null | undefined): string {
  const lines = (s ?? '').trim().split('\n');
  return lines[lines.length - 1]!.trim().slice(0, 300);
}

/** The last non-empty stdout line is the result object; anything before it is the script's chatter. */
export function parseTorchOutput(stdout: string): { out: TorchResult | null; err: string | null } {
  const line = lastLine(stdout);
  if (!line) return { out: null, err: 'no output' };
  try {
    const v = JSON.parse(line) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return { out: null, err: `not a JSON object: ${line}` };
    return { out: v as TorchResult, err: null };
  } catch {
    return { out: null, err: `not JSON: ${line}` };
  }
}

/** Adds PyTorch's time and the ratio to a row; a non-positive or missing time leaves the row alone. */
export function withTorch(row: Row, torchMs: number | undefined | null): Row {
  if (typeof torchMs !== 'number' || !(torchMs > 0) || !Number.isFinite(torchMs)) return row;
  return { ...row, torch_ms: round(torchMs, 3), ratio: round(row.ms / torchMs, 3) };
}

// ---- output ----

// Row fields beyond the table's columns that the text output still shows, under a short label.
const EXTRAS: [string, string][] = [
  ['hvp_per_grad', 'HVP / gradient'], ['torch_hvp_per_grad', 'PyTorch HVP / gradient'],
  ['extrapolated_from', 'scaled from a measurement on'], ['cpu_ms', 'cpu ms'],
  ['reps', 'timed runs (pai and PyTorch alternating), medians'], ['ratios', 'pai/torch per pair'], ['ratio_median', 'median pair ratio'],
];

export class Reporter {
  readonly rows: Row[] = [];
  private header = false;
  constructor(readonly json: boolean, private readonly out: NodeJS.WritableStream = process.stdout, private readonly err: NodeJS.WritableStream = process.stderr) {}

  row(r: Row): void {
    this.rows.push(r);
    if (this.json) {
      this.out.write(JSON.stringify(r) + '\n');
      return;
    }
    if (!this.header) {
      this.out.write(`${'suite'.padEnd(7)} ${'workload'.padEnd(30)} ${'backend'.padEnd(7)} ${'thr'.padStart(3)} ${'pai ms'.padStart(11)} ${'img/s'.padStart(9)} ${'GFLOP/s'.padStart(8)} ${'torch ms'.padStart(11)} ${'pai/torch'.padStart(9)}\n`);
      this.header = true;
    }
    const num = (v: number | undefined, w: number, d: number): string => (v === undefined ? '' : v.toFixed(d)).padStart(w);
    this.out.write(`${r.suite.padEnd(7)} ${r.workload.padEnd(30)} ${r.backend.padEnd(7)} ${String(r.threads).padStart(3)} ${num(r.ms, 11, 2)} ${num(r.images_per_s, 9, 1)} ${num(r.gflops, 8, 2)} ${num(r.torch_ms, 11, 2)} ${num(r.ratio, 9, 3)}\n`);
    const extra = EXTRAS.filter(([k]) => r[k] !== undefined).map(([k, label]) => `${label} ${String(r[k])}`);
    if (typeof r['note'] === 'string') extra.push(r['note']);
    if (extra.length) this.out.write(`        ${extra.join(', ')}\n`);
  }

  /** A line that is not a row (a skip, a warning): on stderr under --json so that stdout stays rows. */
  note(text: string): void {
    (this.json ? this.err : this.out).write(text + '\n');
  }
}

/**
 * The shared start of a single-suite script: --backend js|native, --threads, --json; a one-line
 * note when PyTorch is skipped. `val(flag)` reads a flag's value.
 */
export function standaloneSuite(run: (val: (flag: string) => string | undefined, backend: Backend, rep: Reporter, torch: Torch) => void): void {
  const argv = process.argv.slice(2);
  const val = (k: string): string | undefined => { const i = argv.indexOf(k); return i >= 0 ? argv[i + 1] : undefined; };
  const backend = val('--backend') === 'js' ? jsBackend : nativeBackend();
  if (!backend) throw new Error('native backend not built; run `node scripts/build-native.mjs` or pass --backend js');
  if (val('--threads')) backend.setNumThreads(Number(val('--threads')));
  const rep = new Reporter(argv.includes('--json'));
  const torch = openTorch();
  if (torch.skipped) rep.note(`PyTorch skipped: ${torch.skipped}`);
  run(val, backend, rep, torch);
}
