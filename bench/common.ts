// What every suite of `npm run bench` shares: the row format, the timing method (median of
// repetitions after one warm-up call, the same method bench/torch/bench.py uses), the output in
// both forms, the optional PyTorch run of the identical workload, and the command line of every
// entry point (benchFlags).

import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, Option } from 'commander';
import { jsBackend, nativeBackend, type Backend } from '../src/kernels/index.js';
import { at, last } from '../src/tensor/checked.js';
import { oneLine, UserError } from '../src/cli/errors.js';
import { parseChoice, parseInteger, parsePositive, parseSparsity, parseWidth } from '../src/cli/options.js';

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
  const upper = at(s, m, 'sorted values');
  return s.length % 2 ? upper : (at(s, m - 1, 'sorted values') + upper) / 2;
}

/** Wall times (ms) of `reps` calls after one untimed warm-up call. */
export function timeAll(fn: () => void, reps: number): number[] {
  fn();
  const ts: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    fn();
    ts.push(performance.now() - t0);
  }
  return ts;
}

/** Median wall time (ms) of `reps` calls after one untimed warm-up call. */
export function timeMedian(fn: () => void, reps: number): number {
  return median(timeAll(fn, reps));
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
  if (!python) return { skipped: 'PAI_TORCH_PYTHON is not set (set it to a Python that has torch to compare)', run: () => null, lastError: null };
  const call = (args: string[]): { out: TorchResult | null; err: string | null } => {
    const r = spawnSync(python, [TORCH_SCRIPT, ...args], { encoding: 'utf8', timeout: timeoutS * 1000, maxBuffer: 64 << 20 });
    if (r.error) return { out: null, err: `${python}: ${r.error.message}` };
    if (r.status !== 0) return { out: null, err: `${python} exited with ${r.status ?? r.signal}: ${lastLine(r.stderr) || lastLine(r.stdout)}` };
    return parseTorchOutput(r.stdout);
  };
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
  return last((s ?? '').trim().split('\n'), 'output lines').trim().slice(0, 300);
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

// ---- flags ----
//
// Every entry point under bench/ declares its flags here, on commander, and gets the same contract
// as the `pai` command: --help prints the flags, their defaults and examples, and a bad flag or value
// is one `bench: ...` line on stderr naming the flag, with exit code 2. Values are checked by the
// pai command's own parsers (src/cli/options.ts), which name the flag in their UserError.

/** Turns a flag's text into its value; throws UserError naming `flag`. */
export type Parse<T> = (flag: string, v: string) => T;

export const int = (min = 1): Parse<number> => (flag, v) => parseInteger(flag, v, min);
export const positive: Parse<number> = parsePositive;
export const fraction: Parse<number> = (flag, v) => parseSparsity(v, flag);
export const width: Parse<number> = (_flag, v) => parseWidth(v);

/** A comma-separated list, each item parsed on its own (the message names the item). */
export function listOf<T>(item: Parse<T>): Parse<T[]> {
  return (flag, v) => {
    const items = v.split(',').map((s) => s.trim()).filter(Boolean);
    if (items.length === 0) throw new UserError(`${flag} needs a comma-separated list, got "${v}"`);
    return items.map((s) => item(flag, s));
  };
}

/** One of a set of names; the set is a function so that a registry is read only when the flag is given. */
export function oneOf(names: () => readonly string[]): Parse<string> {
  return (flag, v) => parseChoice(flag, v, names());
}

/**
 * One flag: `--name <value>` with a parser (and a default, shown by --help), or a bare `--name`
 * switch without one.
 */
export function flag<T>(flags: string, description: string, parse?: Parse<T>, defaultValue?: T, defaultText?: string): Option {
  const o = new Option(flags, description);
  if (parse) {
    const name = o.long ?? o.flags;
    o.argParser((v: string) => parse(name, v));
  }
  if (defaultValue !== undefined) o.default(defaultValue, defaultText);
  return o;
}

export const jsonFlag = (what = 'one JSON object per line'): Option => flag('--json', what);
export const threadsFlag = (what = 'compute threads of the native backend (default: all cores)'): Option => flag('--threads <n>', what, int(1));
export const repsFlag = (defaultValue?: number, what = 'timed repetitions per workload, after one warm-up'): Option => flag('--reps <n>', what, int(1), defaultValue);
export const backendFlag = (choices: readonly string[] = ['native', 'js']): Option =>
  new Option('--backend <which>', 'compute backend').choices(choices).default('native');

export interface BenchCli {
  /** The command's name in the usage line: `node dist/bench/<file>.js`. */
  file: string;
  description: string;
  flags: Option[];
  /** Command lines shown under the help text. */
  examples: string[];
}

/** A bench entry's command line; exits 0 after --help and 2 with one `bench:` line on a bad flag. */
export function benchFlags<T extends object>(cli: BenchCli, argv: readonly string[] = process.argv): T {
  const cmd = new Command(`node dist/bench/${cli.file}.js`)
    .description(cli.description)
    .helpOption('-h, --help', 'print this help')
    .exitOverride()
    .configureOutput({ outputError: () => { /* benchFail prints the one-line form */ } })
    .addHelpText('after', `\nExamples:\n${cli.examples.map((l) => `  $ ${l}`).join('\n')}\n`);
  for (const o of cli.flags) cmd.addOption(o);
  try {
    cmd.parse([...argv]);
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.exitCode === 0) process.exit(0);
      benchFail(e.message.replace(/^error:\s*/, ''));
    }
    if (e instanceof UserError) benchFail(e.message);
    throw e;
  }
  return cmd.opts() as T;
}

/** A user error of a bench entry: one `bench:` line on stderr, exit code 2. */
export function benchFail(message: string): never {
  process.stderr.write(`bench: ${oneLine(message)}\n`);
  process.exit(2);
}

/** The backend a suite runs on, with its thread count set; a native backend that is not built is a user error. */
export function suiteBackend(name: string, threads?: number): Backend {
  const backend = name === 'js' ? jsBackend : nativeBackend();
  if (!backend) benchFail('native backend not built; run `node scripts/build-native.mjs` or pass --backend js');
  if (threads !== undefined) backend.setNumThreads(threads);
  return backend;
}

export interface SuiteFlags { backend: string; threads?: number; json?: boolean }

/**
 * The shared start of a single-suite script: its flags plus --backend js|native, --threads and
 * --json; a one-line note when PyTorch is skipped.
 */
export function standaloneSuite<T extends object>(cli: BenchCli, run: (o: T & SuiteFlags, backend: Backend, rep: Reporter, torch: Torch) => void): void {
  const o = benchFlags<T & SuiteFlags>({ ...cli, flags: [...cli.flags, backendFlag(), threadsFlag(), jsonFlag()] });
  const backend = suiteBackend(o.backend, o.threads);
  const rep = new Reporter(Boolean(o.json));
  const torch = openTorch();
  if (torch.skipped) rep.note(`PyTorch skipped: ${torch.skipped}`);
  run(o, backend, rep, torch);
}
