// Sparse execution against dense masked execution, at sparsities from 0.5 to 0.995: per layer (a
// ResNet 3x3 convolution at batch 64, forward alone and forward + both backward passes) and per
// model (ResNet-20 and ResNet-18 on 3x32x32 at batch 64: inference, and a training step with SGD
// momentum and the masks enforced as the trainer enforces them). Dense and sparse are timed in
// alternation within one run, so load from other processes hits both alike; the row's `speedup` is
// dense ms / sparse ms and each workload ends with its crossover sparsity (where the speed-up
// reaches 1, interpolated linearly between the measured sparsities).
//
//   node dist/bench/sparse.js [--json] [--threads N] [--reps 3] [--batch 64]
//        [--sparsities 0.5,0.8,0.9,0.95,0.98,0.99,0.995] [--parts layer,model] [--models resnet20,resnet18]

import { pathToFileURL } from 'node:url';
import { useBackend, type Backend } from '../src/kernels/index.js';
import type { Conv2dParams } from '../src/kernels/interface.js';
import { Generator } from '../src/tensor/random.js';
import { randn } from '../src/tensor/create.js';
import { Tensor } from '../src/tensor/tensor.js';
import { backward, noGrad } from '../src/autograd/graph.js';
import { crossEntropy, sparsePatternFromMask } from '../src/autograd/ops/index.js';
import { Conv2d, Linear } from '../src/nn/layers.js';
import { sparsifyModel } from '../src/nn/sparse.js';
import type { Module } from '../src/nn/module.js';
import { createModel, modelNames } from '../src/models/registry.js';
import type { Model } from '../src/models/common.js';
import { MaskEnforcer } from '../src/prune/masking.js';
import { createOptimizer } from '../src/train/optim.js';
import { benchFlags, flag, fraction, int, jsonFlag, listOf, median, oneOf, repsFlag, Reporter, round, suiteBackend, threadsFlag, type Row } from './common.js';
import { at, defined, isNonEmpty, zip } from '../src/tensor/checked.js';

export const SPARSE_DEFAULTS = {
  sparsities: [0.5, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995],
  models: ['resnet20', 'resnet18'],
  batch: 64,
};

export const SPARSE_PARTS = ['layer', 'model'] as const;

export interface SparseSuiteOptions {
  backend: Backend;
  reps: number;
  batch?: number;
  sparsities?: number[];
  models?: string[];
  parts?: (typeof SPARSE_PARTS)[number][];
}

interface Pair { wall: [number, number]; cpu: [number, number] }

/**
 * Median wall and CPU times (ms) of a and b, each rep timing a then b (one untimed warm-up call of
 * each first). With one compute thread the CPU time is the work itself, whatever else the machine
 * runs; the wall time also counts the time other processes held the core.
 */
function timePair(a: () => void, b: () => void, reps: number): Pair {
  a(); b();
  const wallA: number[] = [], wallB: number[] = [], cpuA: number[] = [], cpuB: number[] = [];
  const once = (f: () => void, w: number[], c: number[]): void => {
    const c0 = process.cpuUsage(), t0 = performance.now();
    f();
    w.push(performance.now() - t0);
    const cu = process.cpuUsage(c0);
    c.push((cu.user + cu.system) / 1000);
  };
  for (let i = 0; i < reps; i++) {
    once(a, wallA, cpuA);
    once(b, wallB, cpuB);
  }
  return { wall: [median(wallA), median(wallB)], cpu: [median(cpuA), median(cpuB)] };
}

/** The speed-up the crossover uses: CPU time with one thread (robust to load), else wall time. */
function speedupOf(k: Backend, t: Pair): number {
  return k.numThreads() === 1 ? t.cpu[0] / t.cpu[1] : t.wall[0] / t.wall[1];
}

/** A 0/1 mask keeping each entry with probability 1 - sparsity (seeded), at least one entry. */
function randomMask(shape: readonly number[], sparsity: number, gen: Generator): Tensor {
  const n = shape.reduce((p, d) => p * d, 1);
  const d = new Float32Array(n);
  let kept = 0;
  for (let i = 0; i < n; i++) if (gen.uniform() >= sparsity) { d[i] = 1; kept++; }
  if (kept === 0) d[Math.floor(gen.uniform() * n)] = 1;
  return new Tensor(d, shape);
}

/** Random masks for every Conv2d / Linear weight except the classifier (the prunable set). */
function modelMasks(model: Model, sparsity: number, gen: Generator): Map<string, Tensor> {
  const masks = new Map<string, Tensor>();
  for (const [name, m] of model.namedModules()) {
    if (name === model.classifierName) continue;
    if (m instanceof Conv2d || m instanceof Linear) masks.set(`${name}.weight`, randomMask(m.weight.shape, sparsity, gen));
  }
  return masks;
}

/** Linear interpolation of the sparsity where speed-up crosses 1; null when it never does. */
export function crossover(points: { sparsity: number; speedup: number }[]): number | null {
  const s = [...points].sort((p, q) => p.sparsity - q.sparsity);
  if (!isNonEmpty(s)) return null;
  if (s[0].speedup >= 1) return s[0].sparsity;
  for (const [a, b] of zip(s.slice(0, -1), s.slice(1), 'neighbouring points')) {
    if (b.speedup >= 1) return a.sparsity + (b.sparsity - a.sparsity) * (1 - a.speedup) / (b.speedup - a.speedup);
  }
  return null;
}

function layerWorkloads(batch: number): { name: string; p: Conv2dParams }[] {
  const conv = (c: number, hw: number): Conv2dParams => ({
    n: batch, c, h: hw, w: hw, oc: c, kh: 3, kw: 3, oh: hw, ow: hw, strideH: 1, strideW: 1, padH: 1, padW: 1, dilH: 1, dilW: 1, groups: 1,
  });
  return [
    { name: `conv3x3-16ch-32px-b${batch}`, p: conv(16, 32) },
    { name: `conv3x3-64ch-32px-b${batch}`, p: conv(64, 32) },
  ];
}

function runLayers(o: SparseSuiteOptions, rep: Reporter, gen: Generator): void {
  const k = o.backend, batch = o.batch ?? SPARSE_DEFAULTS.batch;
  for (const { name, p } of layerWorkloads(batch)) {
    const x = randn([p.n, p.c, p.h, p.w], gen).data as Float32Array;
    const gy = randn([p.n, p.oc, p.oh, p.ow], gen).data as Float32Array;
    const w = randn([p.oc, p.c, p.kh, p.kw], gen);
    const y = new Float32Array(gy.length), gx = new Float32Array(x.length), gw = new Float32Array(w.size);
    for (const mode of ['fwd', 'train'] as const) {
      const points: { sparsity: number; speedup: number }[] = [];
      for (const s of o.sparsities ?? SPARSE_DEFAULTS.sparsities) {
        const mask = randomMask(w.shape, s, gen);
        const pt = sparsePatternFromMask(mask);
        const wd = w.data.map((v, i) => v * at(mask.data, i, 'mask')) as Float32Array;
        const v = Float32Array.from(pt.index, (j) => at(wd, j, 'masked weight'));
        const gv = new Float32Array(pt.nnz);
        const dense = (): void => {
          k.conv2d(x, wd, null, y, p);
          if (mode === 'train') { k.conv2dBackwardData(gy, wd, gx, p); k.conv2dBackwardWeight(x, gy, gw, p); }
        };
        const sparse = (): void => {
          k.sparseConv2d(x, v, pt, null, y, p);
          if (mode === 'train') { k.sparseConv2dBackwardData(gy, v, pt, gx, p); k.sparseConv2dBackwardWeight(x, gy, pt, gv, p); }
        };
        const t = timePair(dense, sparse, o.reps);
        points.push({ sparsity: s, speedup: speedupOf(k, t) });
        rep.row(row(`${name}-${mode}`, k, s, t, batch));
      }
      noteCrossover(rep, `${name}-${mode}`, points);
    }
  }
}

function row(workload: string, k: Backend, s: number, t: Pair, batch: number): Row {
  const [dms, sms] = t.wall, [dcpu, scpu] = t.cpu;
  return {
    suite: 'sparse', workload: `${workload}-s${s}`, backend: k.name, threads: k.numThreads(), ms: round(sms, 3),
    images_per_s: round(batch / sms * 1000, 1), sparsity: s, dense_ms: round(dms, 3), speedup: round(dms / sms, 3),
    cpu_ms: round(scpu, 3), dense_cpu_ms: round(dcpu, 3), cpu_speedup: round(dcpu / scpu, 3),
    note: `sparsity ${s}: dense ${dms.toFixed(2)} ms, sparse ${sms.toFixed(2)} ms, speed-up ${(dms / sms).toFixed(2)}x (CPU time ${dcpu.toFixed(1)} / ${scpu.toFixed(1)} ms = ${(dcpu / scpu).toFixed(2)}x)`,
  };
}

function noteCrossover(rep: Reporter, workload: string, points: { sparsity: number; speedup: number }[]): void {
  const c = crossover(points);
  rep.note(`${workload}: crossover ${c === null ? 'not reached' : `at sparsity ${c.toFixed(3)}`}${points.length < 2 ? ' (one sparsity measured)' : ''}`);
}

/** A training step (forward, cross-entropy, backward, SGD momentum, masks enforced) of one model. */
function trainStep(m: Module, masks: ReadonlyMap<string, Tensor> | null, x: Tensor, y: number[]): () => void {
  const opt = createOptimizer(m.namedParameters(), { name: 'sgd', lr: 0.01, momentum: 0.9, weightDecay: 5e-4 });
  const enforcer = masks && masks.size > 0 ? new MaskEnforcer(m, masks) : null;
  enforcer?.applyToWeights();
  return () => {
    backward(crossEntropy(m.forward(x), y));
    enforcer?.maskGradients();
    opt.step();
    enforcer?.afterStep();
    opt.zeroGrad();
  };
}

function runModels(o: SparseSuiteOptions, rep: Reporter, gen: Generator): void {
  const k = o.backend, batch = o.batch ?? SPARSE_DEFAULTS.batch;
  const x = randn([batch, 3, 32, 32], gen);
  const y = Array.from({ length: batch }, (_, i) => i % 10);
  for (const model of o.models ?? SPARSE_DEFAULTS.models) {
    for (const mode of ['infer', 'train'] as const) {
      const points: { sparsity: number; speedup: number }[] = [];
      for (const s of o.sparsities ?? SPARSE_DEFAULTS.sparsities) {
        const dense = createModel(model, { numClasses: 10, seed: 0 });
        const sparse = createModel(model, { numClasses: 10, seed: 0 });
        const masks = modelMasks(dense, s, new Generator(Math.round(s * 1e4), 'bench-masks'));
        for (const [name, mk] of masks) {
          const wd = defined(dense.stateDict().get(name), 'a masked weight'), ws = defined(sparse.stateDict().get(name), 'a masked weight');
          for (let i = 0; i < mk.size; i++) if (mk.data[i] === 0) { wd.data[i] = 0; ws.data[i] = 0; }
        }
        sparsifyModel(sparse, masks, { minSparsity: 0 });
        let fd: () => void, fs: () => void;
        if (mode === 'infer') {
          dense.eval(); sparse.eval();
          fd = () => { noGrad(() => dense.forward(x)); };
          fs = () => { noGrad(() => sparse.forward(x)); };
        } else {
          dense.train(); sparse.train();
          fd = trainStep(dense, masks, x, y);
          fs = trainStep(sparse, null, x, y);
        }
        const t = timePair(fd, fs, o.reps);
        points.push({ sparsity: s, speedup: speedupOf(k, t) });
        rep.row(row(`${model}-b${batch}-${mode}`, k, s, t, batch));
      }
      noteCrossover(rep, `${model}-b${batch}-${mode}`, points);
    }
  }
}

/** The `sparse` suite of `npm run bench`. */
export function runSparseSuite(o: SparseSuiteOptions, rep: Reporter): void {
  const gen = new Generator(0, 'bench-sparse');
  const parts = o.parts ?? SPARSE_PARTS;
  useBackend(o.backend);
  try {
    rep.note(`sparse suite: backend ${o.backend.name}, ${o.backend.numThreads()} threads; speed-up = dense masked / sparse time, timed alternately; crossover from ${o.backend.numThreads() === 1 ? 'CPU' : 'wall'} time`);
    if (parts.includes('layer')) runLayers(o, rep, gen);
    if (parts.includes('model')) runModels(o, rep, gen);
  } finally {
    useBackend(null);
  }
}

function main(): void {
  const o = benchFlags<{ json?: boolean; threads?: number; reps: number; batch: number; sparsities: number[]; models: string[]; parts: ('layer' | 'model')[] }>({
    file: 'sparse',
    description: 'Sparse execution against dense masked execution, per layer and per model, timed alternately, with the crossover sparsity of each workload (native backend).',
    flags: [
      repsFlag(3),
      flag('--batch <n>', 'batch size', int(1), SPARSE_DEFAULTS.batch),
      flag('--sparsities <list>', 'comma-separated sparsities in [0, 1)', listOf(fraction), SPARSE_DEFAULTS.sparsities, SPARSE_DEFAULTS.sparsities.join(',')),
      flag('--parts <list>', 'layer, model or both', listOf(oneOf(() => SPARSE_PARTS)), [...SPARSE_PARTS], SPARSE_PARTS.join(',')),
      flag('--models <list>', 'models of the model part', listOf(oneOf(modelNames)), SPARSE_DEFAULTS.models, SPARSE_DEFAULTS.models.join(',')),
      threadsFlag(),
      jsonFlag(),
    ],
    examples: ['node dist/bench/sparse.js --parts layer --threads 1', 'node dist/bench/sparse.js --parts model --models resnet20 --sparsities 0.9,0.99 --reps 3'],
  });
  const rep = new Reporter(Boolean(o.json));
  runSparseSuite({ backend: suiteBackend('native', o.threads), reps: o.reps, batch: o.batch, sparsities: o.sparsities, models: o.models, parts: o.parts }, rep);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
