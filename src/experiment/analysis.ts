// The mask-level analysis of a study: what the criteria's masks and scores look like, without
// training anything. For every setting of the study's pruned runs (dataset, model, width and the
// scoring settings), every BN warm-up arm and every sparsity:
// 1. how different the criteria are: the pairwise intersection over union of their masks and the
//    Spearman rank correlation of their scores over the prunable weights, mean and confidence
//    interval over seeds;
// 2. the per-layer density of every criterion's mask;
// 3. the collapse threshold: the largest sparsity at which a criterion's mask still leaves an
//    input-to-output path, by bisection on log(1 - sparsity);
// 4. for the criteria with Hutchinson probes, how their masks converge in the number of probes K:
//    IoU against a reference K, the relative error of the diagonal estimate, and IoU against the
//    exact Gauss-Newton criterion.
//
// Scoring is the runner's, piece by piece (runner.ts exports them): the run's model initialised from
// its seed, its mask data, its BN warm-up over its training loader, pruneAtInit with its options. A
// one-shot criterion's scores depend on (criterion, seed, arm) only, so they are computed once and
// every sparsity is cut from them. Each such scoring result (scores, an iterative criterion's masks,
// a collapse bisection) is kept as one safetensors file in a cache folder, named by a hash of
// everything that decides it, so a killed analysis continues where it stopped.

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { checkArgument, checkOptions, is } from '../tensor/options.js';
import { at, defined } from '../tensor/checked.js';
import { Tensor } from '../tensor/tensor.js';
import { readSafetensors, saveTensors, toTensor } from '../tensor/safetensors.js';
import {
  bnWarmup, getCriterion, hashMaskData, hashWeights, layerDensities, makeMasks, prunableParameters, pruneAtInit, QuantityMemo,
  resolveCriterionOptions, type MaskData, type Masks, type Scores,
} from '../prune/index.js';
import type { Model } from '../models/registry.js';
import { canonicalJson, DENSE, PAT, type RunSettings, type Study } from './config.js';
import {
  cloneState, DataCache, planRuns, runMaskData, runModel, runPruneOptions, runTransforms, ScoreMemo, trainLoaderOf,
  warmupBatchCount, warmupImages,
} from './runner.js';
import { criterionOrder, settingLabel } from './report.js';
import { maskIou, meanInterval, spearman, type Interval } from './stats.js';
import { paiVersion } from './version.js';
import { backendInfo } from '../kernels/index.js';
import { DEFAULT_PROBE_REF, DEFAULT_PROBES, DEFAULT_STABLE_IOU } from './analysis-defaults.js';

export { DEFAULT_PROBE_REF, DEFAULT_PROBES, DEFAULT_STABLE_IOU, QUICK_PROBE_REF, QUICK_PROBES } from './analysis-defaults.js';

/** The format tag of analysis.json. */
export const ANALYSIS_FORMAT = 'pai-analysis/1';
/**
 * The collapse bisection: between sparsities `lo` and `hi`, on log(1 - sparsity), until the
 * connected and the disconnected densities differ by at most `resolution` (relative).
 */
export const COLLAPSE_SEARCH = { lo: 0.5, hi: 0.99999, resolution: 0.01 } as const;

const CACHE_FORMAT = 'pai-analysis-cache/1';

/** An analysis pai cannot carry out, or an analysis.json it cannot read; the message names the file and field. */
export class AnalysisError extends Error {
  override name = 'AnalysisError';
}

// ---- the result: plain JSON data ----

/** Per-seed values (in the order of the setting's seeds; null where undefined, e.g. a constant score) and their mean with its interval. */
export interface SeedSummary {
  values: (number | null)[];
  /** Over the non-null values; null when there are none. */
  interval: Interval | null;
}

/** A symmetric matrix over criteria, one summary per pair (the diagonal included). */
export interface PairMatrix {
  criteria: string[];
  /** cells[i][j]: criteria[i] against criteria[j]; cells[i][j] and cells[j][i] are the same values. */
  cells: SeedSummary[][];
}

/** The mean kept fraction of every prunable tensor under one criterion's masks at one sparsity. */
export interface LayerProfile {
  criterion: string;
  sparsity: number;
  layers: { name: string; total: number; density: SeedSummary }[];
}

/**
 * One seed's collapse threshold. `exact`: the mask is connected at `threshold` and not at `next`,
 * which lies within the resolution; `above`: connected even at the top of the search (threshold is
 * that sparsity); `below`: disconnected already at its bottom (next is that sparsity);
 * `unchecked`: the model has no path check (LayerNorm).
 */
export interface CollapseSeed {
  seed: number;
  threshold: number | null;
  next: number | null;
  bound: 'exact' | 'above' | 'below' | 'unchecked';
  /** Path checks the bisection made. */
  checks: number;
}

/** A criterion's collapse thresholds over seeds. */
export interface CollapseThreshold {
  criterion: string;
  /** Pruned iteratively: every probe point of the bisection re-ran the pruning. */
  iterative: boolean;
  seeds: CollapseSeed[];
  /** Mean and interval of the `exact` seeds' thresholds; null when there are none. */
  interval: Interval | null;
}

/** One probe count's comparison with the reference. */
export interface ProbeRow {
  probes: number;
  /** IoU of the mask of `probes` probes with the mask of the reference count, per sparsity (the setting's order). */
  iou: SeedSummary[];
  /** IoU with the exact criterion's mask per sparsity; null when pai has no exact counterpart. */
  iouExact: SeedSummary[] | null;
  /** ‖D_K − D_ref‖ / ‖D_ref‖ of the diagonal estimates over the prunable weights; null without a diagonal criterion. */
  diagonalError: SeedSummary | null;
}

/** How a probe criterion's masks converge in the number of Hutchinson probes. */
export interface ProbeConvergence {
  criterion: string;
  /** The criterion with the exact Gauss-Newton diagonal in place of the estimate (ggn_pruning), or null. */
  exact: string | null;
  /** The criterion whose score is the diagonal estimate itself (hutch_diag), or null. */
  diagonal: string | null;
  /** K_ref. */
  reference: number;
  /** The probes the study's runs use. */
  runProbes: number;
  rows: ProbeRow[];
  /**
   * Per sparsity: the smallest K (below K_ref) whose IoU with K_ref has its interval's lower bound
   * (the mean, with one seed) at least `stableIou`; null when none does.
   */
  stable: (number | null)[];
}

/** One BN warm-up arm of a setting. */
export interface ArmAnalysis {
  warmup: boolean;
  /** The criteria compared, in the registry's order. */
  criteria: string[];
  /** Those pruned iteratively (their rank correlations use their one-shot scores). */
  iterative: string[];
  /** Mask IoU per sparsity. */
  iou: { sparsity: number; matrix: PairMatrix }[];
  /** Spearman correlation of the scores (one-shot scores for iterative criteria). */
  spearman: PairMatrix;
  layers: LayerProfile[];
  collapse: CollapseThreshold[];
  probes: ProbeConvergence[];
}

/** One setting: runs that differ only in criterion, sparsity, seed, warm-up and training. */
export interface SettingAnalysis {
  key: string;
  label: string;
  dataset: string;
  model: string;
  width: number;
  seeds: number[];
  sparsities: number[];
  /** The prunable tensors in network order, with their sizes. */
  prunable: { name: string; total: number }[];
  /** Criteria of the study left out, and why. */
  excluded: { criterion: string; reason: string }[];
  arms: ArmAnalysis[];
}

/** Everything `analyzeStudies` found: plain JSON data (analysis.json). */
export interface AnalysisResult {
  format: typeof ANALYSIS_FORMAT;
  pai: { version: string; backend: string };
  /** The config files (or study names) analysed. */
  studies: { name: string; source: string | null; hash: string }[];
  options: { probes: number[]; probeRef: number; stableIou: number; level: number; collapse: { lo: number; hi: number; resolution: number } };
  /** What the measures mean and leave out, as sentences. */
  notes: string[];
  settings: SettingAnalysis[];
}

// ---- options and events ----

/** Progress and accounting callbacks of `analyzeStudies`. */
export interface AnalysisEvents {
  /** The work planned, in rough cost units (a scoring pass each; see `work`). */
  start?(total: number): void;
  /** Work done so far (cached units count as done at once). */
  progress?(done: number, total: number): void;
  /** A unit is being computed (not cached): its label. */
  unit?(label: string): void;
  /** A unit came from the cache. */
  cacheHit?(label: string): void;
  /** Something the user should know. */
  warn?(message: string): void;
  /** At the end: seconds per phase, units computed and units read from the cache. */
  done?(summary: AnalysisSummary): void;
}

/** Where the time of an analysis went, and how much the cache saved. */
export interface AnalysisSummary {
  /** Seconds per phase: data (datasets, models, mask data), warm-up, score, iterative, collapse, probes, compare, cache. */
  seconds: Record<string, number>;
  computed: number;
  cached: number;
}

/** Options of `analyzeStudies`. */
export interface AnalysisOptions {
  /** Overrides the configs' data.dataDir. */
  dataDir?: string;
  /** Data-loader threads for the warm-up (default: the config's). */
  workers?: number;
  /** Seeds to analyse (default: the runs'). */
  seeds?: number[];
  /** Criteria to compare in every arm (default: each arm's runs'); "none" and "pat" are refused. */
  criteria?: string[];
  /** Sparsities (default: the runs'). */
  sparsities?: number[];
  /** Probe counts K of the convergence check (default DEFAULT_PROBES). */
  probes?: number[];
  /** The reference K_ref (default DEFAULT_PROBE_REF). */
  probeRef?: number;
  /** IoU with K_ref that counts as "the mask stops changing" (default 0.95). */
  stableIou?: number;
  /** Confidence level of the intervals (default 0.95). */
  level?: number;
  /** Folder of the resumable unit cache; none: nothing is kept. */
  cacheDir?: string;
  events?: AnalysisEvents;
}

// ---- the plan ----

interface ArmPlan { warmup: boolean; criteria: string[] }

interface SettingPlan {
  key: string;
  label: string;
  base: RunSettings;
  seeds: number[];
  sparsities: number[];
  arms: ArmPlan[];
  excluded: { criterion: string; reason: string }[];
  dataDir: string | undefined;
  workers: number;
}

const EXCLUDED: Record<string, string> = {
  [DENSE]: 'the dense baseline has no mask',
  [PAT]: 'pruning after training prunes the trained dense network, so its mask needs training',
};

/** Settings that decide the masks apart from criterion, sparsity, seed and warm-up. */
function settingKey(s: RunSettings): string {
  // ScoreMemo.key names everything that reaches the scores; scope and iterations reach the masks.
  return canonicalJson({ scores: ScoreMemo.key({ ...s, criterion: DENSE, seed: 0, warmup: true }), scope: s.scope, iterations: s.iterations });
}

function sortedNumbers(v: Iterable<number>): number[] {
  return [...new Set(v)].sort((a, b) => a - b);
}

function planSettings(studies: readonly Study[], o: AnalysisOptions): SettingPlan[] {
  const groups = new Map<string, { runs: RunSettings[]; study: Study }>();
  const excludedOnly = new Set<string>();
  for (const { run, study } of planRuns(studies)) {
    const s = run.settings;
    if (s.criterion in EXCLUDED) { excludedOnly.add(s.criterion); continue; }
    const key = settingKey(s);
    let g = groups.get(key);
    if (!g) { g = { runs: [], study }; groups.set(key, g); }
    g.runs.push(s);
  }
  const out: SettingPlan[] = [];
  for (const [key, g] of groups) {
    const base = at(g.runs, 0, 'runs of a setting');
    const warmups = [...new Set(g.runs.map((r) => r.warmup))].sort();
    const arms = warmups.map((w) => ({
      warmup: w,
      criteria: o.criteria ? criterionOrder(o.criteria) : criterionOrder(g.runs.filter((r) => r.warmup === w).map((r) => r.criterion)),
    }));
    out.push({
      key: createHash('sha256').update(key).digest('hex').slice(0, 12),
      label: settingLabel(base),
      base,
      seeds: o.seeds ? sortedNumbers(o.seeds) : sortedNumbers(g.runs.map((r) => r.seed)),
      sparsities: o.sparsities ? sortedNumbers(o.sparsities) : sortedNumbers(g.runs.map((r) => r.sparsity)),
      arms,
      excluded: [...excludedOnly].map((c) => ({ criterion: c, reason: defined(EXCLUDED[c], 'reason of an exclusion') })),
      dataDir: o.dataDir ?? g.study.env.dataDir ?? undefined,
      workers: o.workers ?? g.study.env.workers,
    });
  }
  return out.sort((a, b) => a.label.localeCompare(b.label) || a.key.localeCompare(b.key));
}

/** The probe count a criterion uses in a run's settings (null: it has no probes). */
function runProbesOf(s: RunSettings, criterion: string): number | null {
  if (!getCriterion(criterion).uses.includes('probes')) return null;
  return s.probes ?? defined(resolveCriterionOptions(criterion, { semantics: s.semantics }).probes, 'default probe count');
}

/** The settings of one scoring: the setting's, with this criterion, seed, arm and probe count. */
function unitSettings(base: RunSettings, criterion: string, seed: number, warmup: boolean, probes: number | null): RunSettings {
  const runs = runProbesOf(base, criterion);
  // The run's own probe count leaves the settings as the runs have them, so that unit is the run's.
  return { ...base, criterion, seed, warmup, sparsity: 0, probes: probes === null || probes === runs ? base.probes : probes };
}

interface UnitSpec {
  criterion: string;
  /** Probes other than the runs' count; null: the runs' (or none). */
  probes: number | null;
  collapse: boolean;
  /** Rough cost in scoring passes, for progress and ETA only. */
  work: number;
}

function isIterative(s: RunSettings, criterion: string): boolean {
  return (s.iterations ?? getCriterion(criterion).iterations) > 1;
}

function probeCriteria(arm: ArmPlan): string[] {
  return arm.criteria.filter((c) => getCriterion(c).uses.includes('probes'));
}

function probeList(o: Required<Pick<AnalysisOptions, 'probes' | 'probeRef'>>): number[] {
  return sortedNumbers([...o.probes, o.probeRef]);
}

/**
 * The units of one (seed, arm): the criteria compared (with collapse), then the probe counts,
 * diagonals and exact counterparts, each with its rough cost: a Hutchinson diagonal costs its K
 * probe passes once per K, the other criteria built on it (the memo) one pass.
 */
function armUnits(plan: SettingPlan, arm: ArmPlan, probes: number[]): UnitSpec[] {
  const units = new Map<string, UnitSpec>();
  const diagonals = new Set<string>();
  const add = (criterion: string, k: number | null, collapse: boolean): void => {
    const runs = runProbesOf(plan.base, criterion);
    const eff = runs === null ? null : k ?? runs;
    const id = `${criterion}|${eff}`;
    const u = units.get(id);
    if (u) {
      if (collapse && !u.collapse) { u.collapse = true; u.work += 1; }
      return;
    }
    let work: number;
    if (isIterative(plan.base, criterion)) work = plan.sparsities.length + 1 + (collapse ? 14 : 0);
    else {
      const shared = getCriterion(criterion).diagonal;
      const first = shared === undefined || !diagonals.has(`${shared}|${eff}`);
      if (shared !== undefined) diagonals.add(`${shared}|${eff}`);
      work = 1 + (first ? eff ?? 0 : 0) + (collapse ? 1 : 0);
    }
    units.set(id, { criterion, probes: eff === runs ? null : eff, collapse, work });
  };
  for (const c of arm.criteria) add(c, null, true);
  for (const c of probeCriteria(arm)) {
    const { diagonal, exact } = getCriterion(c);
    for (const k of probes) {
      add(c, k, false);
      if (diagonal !== undefined) add(diagonal, k, false);
    }
    if (exact !== undefined) add(exact, null, false);
  }
  return [...units.values()];
}

const WARMUP_WORK = 20;

// ---- one unit: scores (and an iterative criterion's masks, and the collapse bisection) ----

interface UnitResult {
  /** Scores of the prunable tensors (one-shot scores for an iterative criterion). */
  scores: Scores;
  /** An iterative criterion's masks per sparsity (the setting's sparsities); null for one-shot ones. */
  masks: Map<number, Masks> | null;
  collapse: Omit<CollapseSeed, 'seed'> | null;
}

/**
 * The largest sparsity in [lo, hi] whose mask is connected, by bisection on log(1 - sparsity)
 * until the connected and disconnected densities are within the resolution.
 */
function bisectCollapse(connected: (sparsity: number) => boolean | null): Omit<CollapseSeed, 'seed'> {
  const { lo, hi, resolution } = COLLAPSE_SEARCH;
  let checks = 0;
  const probe = (s: number): boolean | null => { checks++; return connected(s); };
  const first = probe(lo);
  if (first === null) return { threshold: null, next: null, bound: 'unchecked', checks };
  if (!first) return { threshold: null, next: lo, bound: 'below', checks };
  if (probe(hi)) return { threshold: hi, next: null, bound: 'above', checks };
  let ok: number = lo, bad: number = hi;
  while ((1 - ok) / (1 - bad) > 1 + resolution) {
    const mid = 1 - Math.sqrt((1 - ok) * (1 - bad));
    if (probe(mid)) ok = mid;
    else bad = mid;
  }
  return { threshold: ok, next: bad, bound: 'exact', checks };
}

/** The mask of `scores` at `sparsity` under a setting and whether it connects input to output (null: not checked). */
function connectedAt(model: Model, s: RunSettings, scores: Scores, sparsity: number): boolean | null {
  // pruneAtInit with the scores given: the runner's masks and its collapse check, nothing applied.
  return pruneAtInit(model, { ...runPruneOptions({ ...s, sparsity }), iterations: 1, data: null, scores, apply: false }).report.connected;
}

function onlyPrunable(scores: Scores, prunable: readonly string[]): Scores {
  return new Map(prunable.map((n) => [n, defined(scores.get(n), `scores of ${n}`)]));
}

const SCORE = 'score:';
const MASK = (sparsity: number): string => `mask@${sparsity}:`;

function unitTensors(r: UnitResult): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const [n, t] of r.scores) out.set(`${SCORE}${n}`, t);
  for (const [sp, m] of r.masks ?? []) for (const [n, t] of m) out.set(`${MASK(sp)}${n}`, t);
  return out;
}

function unitFromTensors(t: Map<string, Tensor>, prunable: readonly string[], sparsities: readonly number[] | null, collapse: string | undefined): UnitResult {
  const pick = (prefix: string): Map<string, Tensor> => new Map(prunable.map((n) => {
    const v = t.get(`${prefix}${n}`);
    if (!v) throw new AnalysisError(`cache entry has no tensor ${prefix}${n}`);
    return [n, v];
  }));
  return {
    scores: pick(SCORE),
    masks: sparsities ? new Map(sparsities.map((sp) => [sp, pick(MASK(sp))])) : null,
    collapse: collapse === undefined ? null : JSON.parse(collapse) as Omit<CollapseSeed, 'seed'>,
  };
}

/** The resumable cache: one safetensors file per unit, named by the hash of its key, the key inside. */
class UnitCache {
  constructor(private readonly dir: string | null, private readonly warn: (m: string) => void) {}

  private file(key: string): string {
    return join(this.dir ?? '', `${createHash('sha256').update(key).digest('hex').slice(0, 32)}.safetensors`);
  }

  get(key: string, read: (t: Map<string, Tensor>, meta: Record<string, string>) => UnitResult): UnitResult | null {
    if (this.dir === null) return null;
    const f = this.file(key);
    if (!existsSync(f)) return null;
    try {
      const parsed = readSafetensors(f);
      if (parsed.metadata['pai.analysis.key'] !== key) { this.warn(`analysis cache: ${f} holds another key; recomputing it`); return null; }
      return read(new Map([...parsed.tensors].map(([n, e]) => [n, toTensor(e, n)])), parsed.metadata);
    } catch (e) {
      this.warn(`analysis cache: ${f} is unreadable (${(e as Error).message}); recomputing it`);
      return null;
    }
  }

  put(key: string, r: UnitResult, label: string): void {
    if (this.dir === null) return;
    mkdirSync(this.dir, { recursive: true });
    saveTensors(this.file(key), unitTensors(r), {
      'pai.analysis.key': key, unit: label,
      ...(r.collapse ? { collapse: JSON.stringify(r.collapse) } : {}),
    });
  }
}

// ---- per seed ----

/** What one (seed, arm) contributes: per-pair IoUs and correlations, densities, collapse, probe rows. */
interface ArmSeed {
  iou: Map<number, Map<string, number>>;
  spearman: Map<string, number | null>;
  densities: Map<string, number[]>;
  collapse: Map<string, Omit<CollapseSeed, 'seed'>>;
  probes: Map<string, { iou: Map<string, number>; iouExact: Map<string, number>; diagonalError: Map<number, number> }>;
}

const pairKey = (a: string, b: string): string => `${a}|${b}`;

function concat(m: ReadonlyMap<string, Tensor>, names: readonly string[]): Float32Array {
  const parts = names.map((n) => defined(m.get(n), `tensor ${n}`).data);
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

function relativeError(a: Float32Array, ref: Float32Array): number {
  let num = 0, den = 0;
  for (let i = 0; i < ref.length; i++) {
    const r = ref[i] ?? 0, d = (a[i] ?? 0) - r;
    num += d * d; den += r * r;
  }
  return den === 0 ? (num === 0 ? 0 : Infinity) : Math.sqrt(num / den);
}

class Timer {
  readonly seconds: Record<string, number> = {};
  time<T>(phase: string, f: () => T): T {
    const t0 = performance.now();
    try { return f(); } finally { this.seconds[phase] = (this.seconds[phase] ?? 0) + (performance.now() - t0) / 1000; }
  }
  async timeAsync<T>(phase: string, f: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    try { return await f(); } finally { this.seconds[phase] = (this.seconds[phase] ?? 0) + (performance.now() - t0) / 1000; }
  }
}

interface Work {
  timer: Timer;
  cache: UnitCache;
  caches: Map<string, DataCache>;
  ev: AnalysisEvents;
  work: { done: number; total: number };
  counts: { computed: number; cached: number };
  probes: number[];
  probeRef: number;
  /** Notes already passed on (the criteria repeat theirs for every scoring). */
  said: Set<string>;
}

function advance(r: Work, w: number): void {
  r.work.done += w;
  r.ev.progress?.(r.work.done, r.work.total);
}

/** Progress within the current piece of work, `w` of it done. */
function partly(r: Work, w: number): void {
  r.ev.progress?.(r.work.done + w, r.work.total);
}

async function analyzeSeed(plan: SettingPlan, seed: number, r: Work): Promise<{ arms: ArmSeed[]; prunable: { name: string; total: number }[] }> {
  const s0: RunSettings = { ...plan.base, seed };
  let cache = r.caches.get(plan.dataDir ?? '');
  if (!cache) { cache = new DataCache(plan.dataDir); r.caches.set(plan.dataDir ?? '', cache); }
  const dc = cache;
  const { data, tf, md, model, init, identity } = r.timer.time('data', () => {
    const data = dc.forRun(s0);
    const tf = runTransforms(s0);
    const md: MaskData = runMaskData(data.train, s0, tf.eval);
    const model = runModel(s0);
    return { data, tf, md, model, init: cloneState(model), identity: { init: hashWeights(model), data: hashMaskData(md) } };
  });
  const prunableNames = prunableParameters(model, s0.semantics);
  const prunableSet = new Set(prunableNames);
  const sizes = new Map(model.namedParameters().map(([n, p]) => [n, p.size]));
  const prunable = prunableNames.map((name) => ({ name, total: defined(sizes.get(name), `size of ${name}`) }));
  let warmed: Map<string, Tensor> | null = null;
  const stateOf = async (warm: boolean): Promise<Map<string, Tensor>> => {
    if (!warm) return init;
    if (warmed) return warmed;
    const w = await r.timer.timeAsync('warm-up', async () => {
      model.loadStateDict(init);
      const loader = trainLoaderOf(s0, data, tf, plan.workers);
      try {
        const total = warmupBatchCount(s0, loader);
        bnWarmup(model, warmupImages(loader), { maxBatches: total, progress: (done) => partly(r, WARMUP_WORK * done / total) });
      } finally {
        await loader.close();
      }
      return cloneState(model);
    });
    advance(r, WARMUP_WORK);
    warmed = w;
    return w;
  };
  const note = (m: string): void => {
    if (r.said.has(m)) return;
    r.said.add(m);
    r.ev.warn?.(m);
  };
  const arms: ArmSeed[] = [];
  for (const arm of plan.arms) {
    const memo = new QuantityMemo();
    const results = new Map<string, UnitResult>();
    const armLabel = arm.warmup ? 'with warm-up' : 'no warm-up';
    const unit = async (u: UnitSpec): Promise<UnitResult> => {
      const us = unitSettings(s0, u.criterion, seed, arm.warmup, u.probes);
      const iterative = isIterative(us, u.criterion);
      const content = { collapse: u.collapse ? COLLAPSE_SEARCH : null, masks: iterative ? plan.sparsities : null };
      const scoringKey = canonicalJson({ scores: ScoreMemo.key(us), scope: us.scope, iterations: us.iterations, ...identity });
      const mem = results.get(scoringKey);
      if (mem && (!u.collapse || mem.collapse)) return mem;
      const key = canonicalJson({ format: CACHE_FORMAT, pai: paiVersion(), unit: scoringKey, content });
      const label = `${u.criterion}${u.probes !== null ? ` K=${u.probes}` : ''} seed ${seed} ${armLabel}`;
      const w = u.work;
      const hit = r.timer.time('cache', () => r.cache.get(key, (t, meta) => unitFromTensors(t, prunableNames, content.masks, meta['collapse'])));
      if (hit) {
        r.counts.cached++;
        r.ev.cacheHit?.(label);
        results.set(scoringKey, hit);
        advance(r, w);
        return hit;
      }
      r.ev.unit?.(label);
      model.loadStateDict(await stateOf(arm.warmup));
      const opts = { ...runPruneOptions(us), data: md, apply: false, quantities: memo, note, progress: (done: number, total: number) => partly(r, w * done / total) };
      const phase = u.collapse ? 'score' : 'probes';
      const scores = mem?.scores ?? r.timer.time(phase, () => onlyPrunable(pruneAtInit(model, { ...opts, iterations: 1 }).scores, prunableNames));
      let masks: Map<number, Masks> | null = mem?.masks ?? null;
      if (iterative && !masks) {
        masks = r.timer.time('iterative', () => new Map(plan.sparsities.map((sp) => [sp, onlyPrunable(pruneAtInit(model, { ...opts, sparsity: sp }).masks, prunableNames)])));
      }
      const collapse = u.collapse ? r.timer.time('collapse', () => bisectCollapse((sp) => (iterative
        ? pruneAtInit(model, { ...opts, sparsity: sp }).report.connected
        : connectedAt(model, us, scores, sp)))) : null;
      const res: UnitResult = { scores, masks, collapse };
      r.timer.time('cache', () => r.cache.put(key, res, label));
      r.counts.computed++;
      results.set(scoringKey, res);
      advance(r, w);
      return res;
    };
    const units = armUnits(plan, arm, probeList(r));
    const byUnit = new Map<string, UnitResult>();
    for (const u of units) byUnit.set(`${u.criterion}|${u.probes}`, await unit(u));
    memo.clear();
    // A warm-up every unit of this arm found in the cache was planned but not needed.
    if (arm.warmup && !warmed) advance(r, WARMUP_WORK);
    arms.push(r.timer.time('compare', () => compareArm(plan, arm, byUnit, prunableNames, prunableSet, r)));
  }
  return { arms, prunable };
}

/** The masks of a unit at every sparsity of the setting. */
function masksOf(plan: SettingPlan, u: UnitResult, prunable: ReadonlySet<string>): Map<number, Masks> {
  return u.masks ?? new Map(plan.sparsities.map((sp) => [sp, makeMasks(u.scores, prunable, sp, plan.base.scope)]));
}

function compareArm(plan: SettingPlan, arm: ArmPlan, units: ReadonlyMap<string, UnitResult>, names: readonly string[], prunable: ReadonlySet<string>, r: Work): ArmSeed {
  const get = (c: string, k: number | null): UnitResult => defined(units.get(`${c}|${k}`), `unit ${c} ${k}`);
  const out: ArmSeed = { iou: new Map(), spearman: new Map(), densities: new Map(), collapse: new Map(), probes: new Map() };
  const flatMasks = new Map<string, Map<number, Float32Array>>();
  const flatScores = new Map<string, Float32Array>();
  for (const c of arm.criteria) {
    const u = get(c, null);
    const masks = masksOf(plan, u, prunable);
    flatMasks.set(c, new Map([...masks].map(([sp, m]) => [sp, concat(m, names)])));
    flatScores.set(c, concat(u.scores, names));
    for (const [sp, m] of masks) out.densities.set(`${c}|${sp}`, layerDensities(m, prunable).map((l) => l.density));
    if (u.collapse) out.collapse.set(c, u.collapse);
  }
  const crit = arm.criteria;
  for (const sp of plan.sparsities) {
    const m = new Map<string, number>();
    crit.forEach((a, i) => crit.slice(i).forEach((b) => {
      const v = maskIou(defined(flatMasks.get(a)?.get(sp), 'mask'), defined(flatMasks.get(b)?.get(sp), 'mask'));
      m.set(pairKey(a, b), v); m.set(pairKey(b, a), v);
    }));
    out.iou.set(sp, m);
  }
  crit.forEach((a, i) => crit.slice(i).forEach((b) => {
    const v = spearman(defined(flatScores.get(a), 'scores'), defined(flatScores.get(b), 'scores'));
    const x = Number.isFinite(v) ? v : null;
    out.spearman.set(pairKey(a, b), x); out.spearman.set(pairKey(b, a), x);
  }));
  const ks = probeList(r);
  for (const c of probeCriteria(arm)) {
    const { diagonal, exact } = getCriterion(c);
    // The unit of `name` at k probes: the run's own unit where k is the run's count.
    const unitK = (name: string, k: number): UnitResult => get(name, k === runProbesOf(plan.base, name) ? null : k);
    const flat = (m: Map<number, Masks>): Map<number, Float32Array> => new Map([...m].map(([sp, x]) => [sp, concat(x, names)]));
    const ref = flat(masksOf(plan, unitK(c, r.probeRef), prunable));
    const ex = exact !== undefined ? flat(masksOf(plan, get(exact, null), prunable)) : null;
    const dRef = diagonal !== undefined ? concat(unitK(diagonal, r.probeRef).scores, names) : null;
    const p = { iou: new Map<string, number>(), iouExact: new Map<string, number>(), diagonalError: new Map<number, number>() };
    for (const k of ks) {
      const mk = flat(masksOf(plan, unitK(c, k), prunable));
      for (const sp of plan.sparsities) {
        const a = defined(mk.get(sp), 'mask');
        p.iou.set(`${k}|${sp}`, maskIou(a, defined(ref.get(sp), 'mask')));
        if (ex) p.iouExact.set(`${k}|${sp}`, maskIou(a, defined(ex.get(sp), 'mask')));
      }
      if (diagonal !== undefined && dRef) p.diagonalError.set(k, relativeError(concat(unitK(diagonal, k).scores, names), dRef));
    }
    out.probes.set(c, p);
  }
  return out;
}

// ---- aggregation over seeds ----

function summary(values: (number | null)[], level: number): SeedSummary {
  const finite = values.filter((v): v is number => v !== null && Number.isFinite(v));
  return { values, interval: meanInterval(finite, level) };
}

function aggregate(plan: SettingPlan, perSeed: ArmSeed[][], prunable: { name: string; total: number }[], o: { level: number; stableIou: number; probes: number[]; probeRef: number }): ArmAnalysis[] {
  const ks = sortedNumbers([...o.probes, o.probeRef]);
  return plan.arms.map((arm, ai) => {
    const seeds = perSeed.map((arms) => at(arms, ai, 'arm of a seed'));
    const crit = arm.criteria;
    const matrix = (value: (s: ArmSeed, a: string, b: string) => number | null): PairMatrix => ({
      criteria: crit,
      cells: crit.map((a) => crit.map((b) => summary(seeds.map((s) => value(s, a, b)), o.level))),
    });
    const iterative = crit.filter((c) => isIterative(plan.base, c));
    const layers: LayerProfile[] = [];
    for (const c of crit) {
      for (const sp of plan.sparsities) {
        layers.push({
          criterion: c, sparsity: sp,
          layers: prunable.map((l, li) => ({ name: l.name, total: l.total, density: summary(seeds.map((s) => s.densities.get(`${c}|${sp}`)?.[li] ?? null), o.level) })),
        });
      }
    }
    const collapse: CollapseThreshold[] = crit.map((c) => {
      const ss = seeds.map((s, si) => ({ seed: at(plan.seeds, si, 'seed'), ...defined(s.collapse.get(c), `collapse of ${c}`) }));
      const exact = ss.filter((x) => x.bound === 'exact').map((x) => defined(x.threshold, 'threshold'));
      return { criterion: c, iterative: iterative.includes(c), seeds: ss, interval: meanInterval(exact, o.level) };
    });
    const probes: ProbeConvergence[] = probeCriteria(arm).map((c) => {
      const { diagonal, exact } = getCriterion(c);
      const rows: ProbeRow[] = ks.map((k) => ({
        probes: k,
        iou: plan.sparsities.map((sp) => summary(seeds.map((s) => s.probes.get(c)?.iou.get(`${k}|${sp}`) ?? null), o.level)),
        iouExact: exact !== undefined ? plan.sparsities.map((sp) => summary(seeds.map((s) => s.probes.get(c)?.iouExact.get(`${k}|${sp}`) ?? null), o.level)) : null,
        diagonalError: diagonal !== undefined ? summary(seeds.map((s) => s.probes.get(c)?.diagonalError.get(k) ?? null), o.level) : null,
      }));
      const stable = plan.sparsities.map((_, si) => {
        const row = rows.find((row) => row.probes < o.probeRef && (row.iou[si]?.interval?.lo ?? -Infinity) >= o.stableIou);
        return row ? row.probes : null;
      });
      return { criterion: c, exact: exact ?? null, diagonal: diagonal ?? null, reference: o.probeRef, runProbes: defined(runProbesOf(plan.base, c), 'probe count'), rows, stable };
    });
    return {
      warmup: arm.warmup, criteria: crit, iterative,
      iou: plan.sparsities.map((sp) => ({ sparsity: sp, matrix: matrix((s, a, b) => s.iou.get(sp)?.get(pairKey(a, b)) ?? null) })),
      spearman: matrix((s, a, b) => s.spearman.get(pairKey(a, b)) ?? null),
      layers, collapse, probes,
    };
  });
}

// ---- the analysis ----

const optionsSchema = z.strictObject({
  dataDir: z.string().min(1).optional(),
  workers: is.nonNegativeInt.optional(),
  seeds: z.array(z.number().int().nonnegative()).min(1).optional(),
  criteria: z.array(z.string()).min(1).optional(),
  sparsities: z.array(z.number().min(0).lt(1)).min(1).optional(),
  probes: z.array(is.positiveInt).min(1).optional(),
  probeRef: is.positiveInt.optional(),
  stableIou: is.fraction.optional(),
  level: z.number().gt(0).lt(1).optional(),
  cacheDir: z.string().min(1).optional(),
  events: z.looseObject({}).optional(),
});

function notesFor(settings: readonly SettingPlan[], o: { probes: number[]; probeRef: number; stableIou: number }): string[] {
  const notes = [
    'Masks and scores are computed as `pai run` computes them for the runs (the model initialised from the seed, the mask images drawn with it, the BN warm-up over the training loader), without training.',
    'IoU: intersection over union of two masks over all prunable weights (1: the same mask). Spearman: rank correlation of two criteria\'s scores over the prunable weights (ties averaged; undefined for a constant score).',
    'Connected: some input-to-output path of non-zero weights survives the mask (the float64 path check of pai). It is necessary for the pruned network to learn, not sufficient: a connected mask can still be too thin to train.',
    `Collapse threshold: the largest sparsity whose mask is still connected, by bisection on log(1 − sparsity) between ${COLLAPSE_SEARCH.lo} and ${COLLAPSE_SEARCH.hi} until the densities on either side differ by at most ${100 * COLLAPSE_SEARCH.resolution} % (relative). One-shot masks are nested in the sparsity, so connectivity is monotone there; iterative masks are re-pruned at every probe point and need not be nested, so their threshold is the one the bisection meets.`,
    `Probe convergence: masks of K Hutchinson probes against K_ref = ${o.probeRef}; the mask stops changing at the smallest K < K_ref whose IoU with K_ref has its ${'95 %'} interval's lower bound at least ${o.stableIou} (with one seed, its mean). The diagonal error is ‖D_K − D_ref‖ / ‖D_ref‖ over the prunable weights.`,
  ];
  if (settings.some((p) => p.arms.some((a) => a.criteria.some((c) => isIterative(p.base, c))))) {
    notes.push('Iterative criteria (SynFlow): their masks come from the iterative pruning at each sparsity; their rank correlations use their one-shot scores (one scoring of the unpruned network).');
  }
  const ex = new Map<string, string>();
  for (const p of settings) for (const e of p.excluded) ex.set(e.criterion, e.reason);
  for (const [c, why] of ex) notes.push(`"${c}" is not analysed: ${why}.`);
  return notes;
}

/**
 * The mask-level analysis of the studies' pruned runs, without training: mask overlap and score
 * correlation between criteria, per-layer densities, collapse thresholds and Hutchinson probe
 * convergence (see the file comment). Deterministic: the same studies and options give the same
 * result. With `cacheDir` every scoring result is kept there and read back by a later call.
 */
export async function analyzeStudies(studies: readonly Study[], options: AnalysisOptions = {}): Promise<AnalysisResult> {
  checkArgument('analyzeStudies', 'studies', z.array(z.looseObject({ name: z.string(), runs: z.array(z.unknown()) })), studies);
  checkOptions('analyzeStudies', optionsSchema, options);
  for (const c of options.criteria ?? []) {
    if (c in EXCLUDED) throw new AnalysisError(`criterion "${c}" cannot be analysed: ${EXCLUDED[c]}`);
    getCriterion(c);
  }
  const o = {
    probes: sortedNumbers(options.probes ?? DEFAULT_PROBES), probeRef: options.probeRef ?? DEFAULT_PROBE_REF,
    stableIou: options.stableIou ?? DEFAULT_STABLE_IOU, level: options.level ?? 0.95,
  };
  const ev = options.events ?? {};
  const plans = planSettings(studies, options);
  if (plans.length === 0) throw new AnalysisError(`the studies have no pruned runs to analyse (only ${[DENSE, PAT].join(' and ')} runs, which have no mask at initialisation)`);
  const r: Work = {
    timer: new Timer(), cache: new UnitCache(options.cacheDir ?? null, (m) => ev.warn?.(m)), caches: new Map(), ev,
    work: { done: 0, total: 0 }, counts: { computed: 0, cached: 0 }, probes: o.probes, probeRef: o.probeRef, said: new Set(),
  };
  for (const p of plans) {
    for (const arm of p.arms) r.work.total += p.seeds.length * armUnits(p, arm, probeList(r)).reduce((a, u) => a + u.work, arm.warmup ? WARMUP_WORK : 0);
  }
  ev.start?.(r.work.total);
  const settings: SettingAnalysis[] = [];
  for (const p of plans) {
    const perSeed: ArmSeed[][] = [];
    let prunable: { name: string; total: number }[] = [];
    for (const seed of p.seeds) {
      const res = await analyzeSeed(p, seed, r);
      perSeed.push(res.arms);
      prunable = res.prunable;
    }
    settings.push({
      key: p.key, label: p.label, dataset: p.base.dataset, model: p.base.model, width: p.base.width,
      seeds: p.seeds, sparsities: p.sparsities, prunable, excluded: p.excluded,
      arms: r.timer.time('compare', () => aggregate(p, perSeed, prunable, o)),
    });
  }
  ev.done?.({ seconds: r.timer.seconds, computed: r.counts.computed, cached: r.counts.cached });
  return {
    format: ANALYSIS_FORMAT,
    pai: { version: paiVersion(), backend: backendInfo().name },
    studies: studies.map((s) => ({ name: s.name, source: s.source, hash: s.hash })),
    options: { ...o, collapse: { ...COLLAPSE_SEARCH } },
    notes: notesFor(plans, o),
    settings,
  };
}
