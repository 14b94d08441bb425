// `node dist/bench/prune.js [--criteria a,b] [--samples 100] [--measure-samples N] [--json]`
// Mask-generation time of every criterion on the paper's workload: ResNet-18 (width 1, CIFAR-10
// shape 3x32x32), 100 mask samples (10 per class, random N(0, 1) images), mask batch size 1,
// global masks at 90 % sparsity. The time is scoring plus the mask (for SynFlow its 100
// prune-rescore iterations). With --measure-samples N < --samples the data-driven criteria are
// timed on the first N samples and scaled linearly to --samples (each sample costs the same passes);
// such rows carry "extrapolatedFrom": N. Only scoring is scaled; the mask is timed once.
// --compute-batch B sets the internal batch of the batched per-sample criteria (1 forces the
// per-sample loops); --compare times every data-driven criterion both ways and prints the ratio,
// with wall and CPU time (process.cpuUsage, all threads).
import { pathToFileURL } from 'node:url';
import { benchFlags, flag, fraction, int, jsonFlag, listOf, median, oneOf, repsFlag, round, withTorch, type Reporter, type Row, type Torch } from './common.js';
import { createModel } from '../src/models/registry.js';
import { Generator } from '../src/tensor/random.js';
import { randn } from '../src/tensor/create.js';
import { sliceAxes } from '../src/autograd/ops/index.js';
import { backendInfo } from '../src/kernels/index.js';
import { criteria, criterionNames, getCriterion, iterativePrune, makeMasks, prunableSet, scoreParameters, type MaskData } from '../src/prune/index.js';
import { DEFAULT_COMPUTE_BATCH } from '../src/prune/context.js';
import { zip } from '../src/tensor/checked.js';

class StopEarly extends Error {}

function cpuMs(u: NodeJS.CpuUsage): number {
  return (u.user + u.system) / 1000;
}

export interface MaskOptions {
  criteria?: string[]; samples: number; measureSamples?: number; synflowIterations: number; measureIterations?: number; sparsity: number;
  computeBatch?: number; compare?: boolean; json?: boolean;
  /** Timed repetitions of each data-driven criterion (after one untimed warm-up); the row reports the median. */
  reps?: number;
  /** Called after each timed repetition of a data-driven criterion, so that another engine can be timed in between. */
  between?: (name: string, measured: number, threads: number) => void;
}

export const MASK_DEFAULTS: MaskOptions = { samples: 100, synflowIterations: 100, sparsity: 0.9 };

/** Times every requested criterion; yields each result row with its line for the text output. */
export function* maskRows(o: MaskOptions): IterableIterator<{ row: Record<string, unknown>; text: string }> {
  const names = o.criteria ?? criteria().map((c) => c.name);
  for (const n of names) getCriterion(n);

  const model = createModel('resnet18', { seed: 0 });
  const prunable = prunableSet(model);
  const g = new Generator(0, 'bench-prune');
  const x = randn([o.samples, 3, 32, 32], g);
  const y = Int32Array.from({ length: o.samples }, (_, i) => i % 10);
  const measured = Math.min(o.measureSamples ?? o.samples, o.samples);
  const data: MaskData = measured === o.samples ? { x, y } : { x: sliceAxes(x, [[0, measured], null, null, null]), y: y.subarray(0, measured) };
  const info = backendInfo();

  if (!o.json) {
    yield { row: {}, text: `resnet18 width 1, ${model.numParameters()} parameters, ${o.samples} mask samples, batch 1, sparsity ${o.sparsity}${measured < o.samples ? ` (data criteria timed on ${measured} samples, scaled)` : ''}` };
  }

  /** Scores one criterion; returns scoring and mask times (wall and CPU, ms), scoring unscaled. */
  const timeCriterion = (name: string, computeBatch: number | undefined): { score: number; scoreCpu: number; mask: number } => {
    const c = getCriterion(name);
    const t0 = performance.now(), u0 = process.cpuUsage();
    const scores = scoreParameters(model, name, c.needsData ? data : null, { inputShape: [3, 32, 32], computeBatch });
    const score = performance.now() - t0, scoreCpu = cpuMs(process.cpuUsage(u0));
    const t1 = performance.now();
    makeMasks(scores, prunable, o.sparsity, 'global');
    return { score, scoreCpu, mask: performance.now() - t1 };
  };

  // Untimed warm-up on the shapes the timed run uses (V8's JIT, oneDNN's primitive creation per
  // shape): the first internal batch of the batched path (computeBatch samples, computeBatch / K
  // for the probe criteria, whose internal batch repeats each sample K times), and batch 1. PyTorch
  // warms its own batch-1 passes the same way.
  const warmed = new Set<string>();
  const warm = (name: string): void => {
    const c = getCriterion(name);
    if (!c.needsData || warmed.has(name)) return;
    warmed.add(name);
    const cb = o.computeBatch ?? DEFAULT_COMPUTE_BATCH;
    const perPass = c.uses.includes('probes') ? Math.max(1, Math.floor(cb / c.defaults('fixed').probes)) : cb;
    for (const n of new Set([Math.min(measured, perPass), 1])) {
      const w: MaskData = { x: sliceAxes(x, [[0, n], null, null, null]), y: y.subarray(0, n) };
      scoreParameters(model, name, w, { inputShape: [3, 32, 32], computeBatch: o.computeBatch });
    }
  };

  for (const name of names) {
    const c = getCriterion(name);
    if (name !== 'synflow' && c.needsData && !o.compare) {
      // Data criteria: warm-up, then `reps` timed runs (each optionally followed by the other
      // engine's run), median reported.
      warm(name);
      const factor = o.samples / measured;
      const runs: { score: number; mask: number }[] = [];
      for (let r = 0; r < (o.reps ?? 1); r++) {
        runs.push(timeCriterion(name, o.computeBatch));
        o.between?.(name, measured, info.threads);
      }
      const scoreMs = median(runs.map((t) => t.score)), maskMs = median(runs.map((t) => t.mask));
      const ms = scoreMs * factor + maskMs;
      const row: Record<string, unknown> = { workload: `mask-${name}`, ms, samples: o.samples };
      if (factor !== 1) { row['extrapolatedFrom'] = measured; row['measuredMs'] = scoreMs + maskMs; }
      Object.assign(row, { backend: info.name, threads: info.threads, scoreMs: scoreMs * factor, maskMs, measured, reps: runs.length, runsMs: runs.map((t) => t.score * factor + t.mask) });
      yield { row, text: `${name.padEnd(14)} ${(ms / 1000).toFixed(1).padStart(9)} s${factor !== 1 ? `  (measured ${(scoreMs / 1000).toFixed(1)} s on ${measured} samples, scaled)` : ''}${runs.length > 1 ? `, median of ${runs.length}` : ''}` };
      continue;
    }
    if (name !== 'synflow' && (o.compare && c.needsData)) {
      warm(name);
      const factor = o.samples / measured;
      const loop = timeCriterion(name, 1);
      const batched = timeCriterion(name, o.computeBatch);
      const row: Record<string, unknown> = {
        workload: `mask-${name}`, samples: o.samples, measuredSamples: measured,
        loopMs: loop.score * factor + loop.mask, loopCpuMs: loop.scoreCpu * factor,
        batchedMs: batched.score * factor + batched.mask, batchedCpuMs: batched.scoreCpu * factor,
        scoreSpeedup: loop.score / batched.score, scoreCpuSpeedup: loop.scoreCpu / batched.scoreCpu, maskMs: batched.mask,
        computeBatch: o.computeBatch ?? null, backend: info.name, threads: info.threads,
      };
      yield { row, text: `${name.padEnd(14)} scoring: loop ${(loop.score * factor / 1000).toFixed(1)} s (cpu ${(loop.scoreCpu * factor / 1000).toFixed(1)} s), batched ${(batched.score * factor / 1000).toFixed(1)} s (cpu ${(batched.scoreCpu * factor / 1000).toFixed(1)} s): ${(loop.score / batched.score).toFixed(2)}x wall, ${(loop.scoreCpu / batched.scoreCpu).toFixed(2)}x cpu; mask ${(batched.mask / 1000).toFixed(1)} s${factor !== 1 ? ` (scoring measured on ${measured} samples, scaled)` : ''}` };
      continue;
    }
    const t0 = performance.now();
    if (name === 'synflow') {
      // The first measureIterations iterations of the full schedule: every iteration costs one
      // forward/backward and one global mask, whatever its density.
      const stop = Math.min(o.measureIterations ?? o.synflowIterations, o.synflowIterations);
      try {
        iterativePrune(model, name, null, prunable, {
          sparsity: o.sparsity, scope: 'global', iterations: o.synflowIterations, schedule: 'exponential', inputShape: [3, 32, 32],
          onIteration: (e) => { if (e + 1 === stop && stop < o.synflowIterations) throw new StopEarly(); },
        });
      } catch (e) {
        if (!(e instanceof StopEarly)) throw e;
      }
    }
    let maskMs = 0;
    if (name !== 'synflow') maskMs = timeCriterion(name, o.computeBatch).mask;
    const raw = performance.now() - t0 - maskMs;
    const iters = Math.min(o.measureIterations ?? o.synflowIterations, o.synflowIterations);
    const factor = name === 'synflow' ? o.synflowIterations / iters : c.needsData ? o.samples / measured : 1;
    const scaled = factor !== 1;
    const ms = raw * factor + maskMs;
    const row: Record<string, unknown> = { workload: `mask-${name}`, ms, samples: o.samples };
    if (scaled) { row['extrapolatedFrom'] = name === 'synflow' ? iters : measured; row['measuredMs'] = raw; }
    if (name === 'synflow') row['iterations'] = o.synflowIterations;
    row['backend'] = info.name;
    row['threads'] = info.threads;
    row['scoreMs'] = raw * factor;
    row['maskMs'] = maskMs;
    row['measured'] = name === 'synflow' ? iters : c.needsData ? measured : o.samples;
    yield { row, text: `${name.padEnd(14)} ${(ms / 1000).toFixed(1).padStart(9)} s${scaled ? `  (measured ${(raw / 1000).toFixed(1)} s on ${name === 'synflow' ? `${iters} iterations` : `${measured} samples`}, scaled)` : ''}` };
  }
}

/**
 * The mask suite of `npm run bench`: one row per criterion (scoring plus the mask, scaled to
 * `samples` as above), with PyTorch's batch-1 loop (bench/torch/bench.py) timed on the same number
 * of measured samples and scaled the same way. With reps > 1 the pai and PyTorch runs alternate
 * (pai, torch, pai, torch, ...), so that both see the same load on a shared machine; each side
 * reports its median, and `ratio_median` is the median of the per-pair ratios.
 */
export function runMaskSuite(o: MaskOptions, rep: Reporter, torch: Torch): void {
  const torchRuns = new Map<string, number[]>();
  const between = (name: string, measured: number, threads: number): void => {
    if (torch.skipped || !TORCH_MASK.has(name)) return;
    const t = torch.run(['mask', '--criterion', name, '--samples', String(measured), '--sparsity', String(o.sparsity), '--threads', String(threads)]);
    if (!t) return rep.note(`torch mask ${name} failed: ${torch.lastError}`);
    const list = torchRuns.get(name) ?? [];
    list.push((t['score_ms'] as number) * (o.samples / measured) + (t['mask_ms'] as number));
    torchRuns.set(name, list);
  };
  for (const { row: r } of maskRows({ ...o, compare: false, json: true, between })) {
    if (r['workload'] === undefined) continue;
    const name = String(r['workload']).slice('mask-'.length);
    const threads = r['threads'] as number;
    const row: Row = { suite: 'mask', workload: String(r['workload']), backend: String(r['backend']), threads, ms: round(r['ms'] as number), samples: o.samples };
    if (r['extrapolatedFrom'] !== undefined) row['extrapolated_from'] = r['extrapolatedFrom'];
    if (r['reps'] !== undefined && (r['reps'] as number) > 1) row['reps'] = r['reps'];
    let torchMs: number | undefined;
    const tr = torchRuns.get(name);
    if (tr && tr.length > 0) {
      torchMs = median(tr);
      const pr = r['runsMs'] as number[];
      if (pr.length === tr.length && tr.length > 1) {
        const ratios = zip(pr, tr, 'pai and PyTorch runs').map(([v, t]) => v / t);
        row['ratio_median'] = round(median(ratios), 3);
        row['ratios'] = ratios.map((r) => round(r, 3));
      }
    } else if (!torch.skipped && !TORCH_MASK.has(name)) row['note'] = `no PyTorch loop for ${name}`;
    else if (!torch.skipped && getCriterion(name).needsData === false && TORCH_MASK.has(name)) {
      // Data-free criteria are timed once, outside the interleaved loop.
      const t = torch.run(['mask', '--criterion', name, '--samples', String(o.samples), '--sparsity', String(o.sparsity), '--threads', String(threads)]);
      if (!t) rep.note(`torch mask ${name} failed: ${torch.lastError}`);
      else torchMs = (t['score_ms'] as number) + (t['mask_ms'] as number);
    }
    rep.row(withTorch(row, torchMs));
  }
}

/** The criteria bench/torch/bench.py has a batch-1 loop for. */
export const TORCH_MASK = new Set(['magnitude', 'random', 'snip', 'grad_norm', 'grasp', 'fisher_diag', 'fisher_pruner', 'fts', 'hutch_diag', 'hutch_pruning', 'hts']);

function main(): void {
  const o = benchFlags<MaskOptions>({
    file: 'prune',
    description: 'Mask-generation time per criterion on ResNet-18 / CIFAR-10 shape, 100 mask samples, batch 1.',
    flags: [
      flag('--criteria <list>', 'comma-separated criteria (default: all)', listOf(oneOf(criterionNames))),
      flag('--samples <n>', 'mask samples (10 per class)', int(1), MASK_DEFAULTS.samples),
      flag('--measure-samples <n>', 'time data-driven criteria on this many samples and scale to --samples', int(1)),
      flag('--synflow-iterations <n>', 'SynFlow prune-rescore iterations', int(1), MASK_DEFAULTS.synflowIterations),
      flag('--measure-iterations <n>', 'time SynFlow on this many iterations of the schedule and scale to --synflow-iterations', int(1)),
      flag('--sparsity <s>', 'mask sparsity, in [0, 1)', fraction, MASK_DEFAULTS.sparsity),
      flag('--compute-batch <n>', 'internal batch of the batched per-sample criteria (1: the per-sample loops)', int(1)),
      flag('--compare', 'time data-driven criteria with the per-sample loop and batched, and their ratio'),
      repsFlag(undefined, 'timed runs of each data-driven criterion after the warm-up (median reported; default 1)'),
      jsonFlag('one JSON object per line: {"workload":"mask-<criterion>","ms":...}'),
    ],
    examples: ['node dist/bench/prune.js --criteria snip,fisher_diag --measure-samples 10', 'node dist/bench/prune.js --criteria synflow --measure-iterations 10 --json'],
  });

  for (const { row, text } of maskRows(o)) {
    if (o.json) { if (row['workload'] !== undefined) process.stdout.write(`${JSON.stringify(row)}\n`); }
    else process.stdout.write(`${text}\n`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
