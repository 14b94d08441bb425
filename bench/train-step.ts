// Training-step benchmark: milliseconds per SGD step (forward, backward, update) on random CIFAR-size
// data for the models whose speed matters in practice. `--profile` adds a breakdown of kernel time
// by kernel (and op code), so a slow step can be traced to what it spends its time on.
//
//   node dist/bench/train-step.js [--json] [--profile] [--models resnet20,resnet18] [--batches 64,128]
//                                 [--reps 5] [--threads N] [--backend native|js]

import { pathToFileURL } from 'node:url';
import { useBackend, type Backend } from '../src/kernels/index.js';
import { Generator } from '../src/tensor/random.js';
import { randn } from '../src/tensor/create.js';
import { backward, noGrad } from '../src/autograd/graph.js';
import { crossEntropy } from '../src/autograd/ops/index.js';
import { createModel, modelNames } from '../src/models/registry.js';
import { backendFlag, benchFlags, flag, int, jsonFlag, listOf, median, oneOf, repsFlag, round, suiteBackend, threadsFlag, withTorch, type Reporter, type Row, type Torch } from './common.js';
import { defined } from '../src/tensor/checked.js';

export const DEFAULT_MODELS = ['resnet20', 'resnet18', 'vgg19', 'vit_tiny_patch4_32'];

interface Args { json?: boolean; profile?: boolean; models: string[]; batches: number[]; reps: number; threads?: number; backend: string }

const UNARY = ['neg', 'exp', 'log', 'sqrt', 'rsqrt', 'abs', 'sign', 'relu', 'step', 'tanh', 'sigmoid', 'erf', 'square', 'reciprocal'];

/** A backend that forwards every call and adds its wall time to a per-kernel tally. */
function profiled(b: Backend, tally: Map<string, { ms: number; calls: number }>): Backend {
  const wrapped: Record<string, unknown> = {};
  const proto = b as unknown as Record<string, unknown>;
  for (const key of Object.keys(proto)) {
    const f = proto[key];
    if (typeof f !== 'function' || ['supports', 'setNumThreads', 'numThreads'].includes(key)) {
      wrapped[key] = typeof f === 'function' ? (f as (...x: unknown[]) => unknown).bind(b) : f;
      continue;
    }
    wrapped[key] = (...args: unknown[]): unknown => {
      let name = key;
      if ((key === 'unary' || key === 'binary' || key === 'reduce') && typeof args[0] === 'string') name += `:${args[0]}`;
      if (key === 'unary' && typeof args[0] === 'number') name += `:${UNARY[args[0]]}`;
      if (key.startsWith('conv2d')) {
        const p = args[args.length - 1] as { c: number; oc: number; h: number; kh: number };
        name += ` ${p.c}->${p.oc}@${p.h} k${p.kh}`;
      }
      const t0 = performance.now();
      const r = (f as (...x: unknown[]) => unknown).apply(b, args);
      const dt = performance.now() - t0;
      const e = tally.get(name) ?? { ms: 0, calls: 0 };
      e.ms += dt; e.calls++;
      tally.set(name, e);
      return r;
    };
  }
  return wrapped as unknown as Backend;
}

/** A benchmark model: a zoo name, with a width and input shape for the ResNet-20 family. */
export interface StepModel { model: string; width?: number; inChannels?: number; imageSize?: number }

/** One training step (forward, backward, SGD update) of a fresh model on fixed random data. */
export function makeStep(spec: string | StepModel, batch: number): () => void {
  const s: StepModel = typeof spec === 'string' ? { model: spec } : spec;
  const gen = new Generator(0, 'bench');
  const shape = { ...(s.width !== undefined ? { width: s.width } : {}), ...(s.inChannels !== undefined ? { inChannels: s.inChannels } : {}), ...(s.imageSize !== undefined ? { imageSize: s.imageSize } : {}) };
  const m = createModel(s.model, { numClasses: 10, seed: 0, ...shape });
  m.train();
  const params = m.parameters();
  const x = randn([batch, s.inChannels ?? 3, s.imageSize ?? 32, s.imageSize ?? 32], gen);
  const y = Array.from({ length: batch }, (_, i) => i % 10);
  const lr = 1e-3;
  return () => {
    m.zeroGrad();
    const loss = crossEntropy(m.forward(x), y);
    backward(loss);
    noGrad(() => {
      for (const q of params) {
        const g = defined(q.grad, 'a gradient after backward').data, d = q.data;
        for (let i = 0; i < d.length; i++) {
          const di = d[i], gi = g[i];
          if (di === undefined || gi === undefined) throw new RangeError('a gradient shorter than its parameter');
          d[i] = di - lr * gi;
        }
      }
    });
  };
}

/** Median wall and CPU time of one training step after a warm-up step, with the backend in use. */
export function measureTrain(model: string, batch: number, reps: number): { ms: number; min: number; cpuMs: number; step: () => void } {
  const step = makeStep(model, batch);
  step();
  const ts: number[] = [], cpu: number[] = [];
  for (let r = 0; r < reps; r++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    step();
    ts.push(performance.now() - t0);
    const cu = process.cpuUsage(c0);
    cpu.push((cu.user + cu.system) / 1000);
  }
  return { ms: median(ts), min: Math.min(...ts), cpuMs: median(cpu), step };
}

/** The train suite of `npm run bench`: one row per model and batch, with PyTorch's time when it runs. */
export function runTrainSuite(o: { models?: string[]; batches?: number[]; reps: number; backend: Backend }, rep: Reporter, torch: Torch): void {
  for (const model of o.models ?? DEFAULT_MODELS) {
    for (const batch of o.batches ?? [64, 128]) {
      useBackend(o.backend);
      let m: ReturnType<typeof measureTrain>;
      try {
        m = measureTrain(model, batch, o.reps);
      } finally {
        useBackend(null);
      }
      const threads = o.backend.numThreads();
      const row: Row = {
        suite: 'train', workload: `train-${model}-b${batch}`, backend: o.backend.name, threads,
        ms: round(m.ms, 2), images_per_s: round(batch / m.ms * 1000, 1), cpu_ms: round(m.cpuMs, 1),
      };
      const t = torch.skipped ? null : torch.run(['train', '--model', model, '--batch', String(batch), '--threads', String(threads), '--reps', String(o.reps)]);
      if (!torch.skipped && !t) rep.note(`torch train ${model} b${batch} failed: ${torch.lastError}`);
      rep.row(withTorch(row, t?.['ms'] as number | undefined));
    }
  }
}

function main(): void {
  const a = benchFlags<Args>({
    file: 'train-step',
    description: 'Milliseconds per SGD training step (forward, backward, update) on random CIFAR-size data; --profile adds the kernel time by kernel.',
    flags: [
      flag('--models <list>', 'comma-separated models', listOf(oneOf(modelNames)), DEFAULT_MODELS, DEFAULT_MODELS.join(',')),
      flag('--batches <list>', 'comma-separated batch sizes', listOf(int(1)), [64, 128], '64,128'),
      repsFlag(5),
      flag('--profile', 'after each workload, one more step with the time of every kernel'),
      backendFlag(),
      threadsFlag(),
      jsonFlag(),
    ],
    examples: [
      'node dist/bench/train-step.js --profile --models resnet20 --batches 64 --threads 2',
      'node dist/bench/train-step.js --models resnet20,resnet18 --batches 64,128 --reps 5 --json',
    ],
  });
  const base = suiteBackend(a.backend, a.threads);
  for (const model of a.models) {
    for (const batch of a.batches) {
      useBackend(base);
      const { ms, min, cpuMs, step } = measureTrain(model, batch, a.reps);
      // CPU time (all threads of the process) next to wall time: on a shared machine the wall time
      // also counts the time other processes held the cores.
      const row = {
        workload: `train-${model}-b${batch}`, ms: +ms.toFixed(1), images_per_s: +(batch / ms * 1000).toFixed(1),
        cpu_ms: +cpuMs.toFixed(1), threads: base.numThreads(), backend: base.name,
      };
      if (a.json) process.stdout.write(JSON.stringify(row) + '\n');
      else process.stdout.write(`${row.workload.padEnd(34)} ${ms.toFixed(1).padStart(9)} ms  ${row.images_per_s.toFixed(1).padStart(8)} img/s  cpu ${row.cpu_ms.toFixed(1).padStart(9)} ms  (min ${min.toFixed(1)}, threads ${row.threads})\n`);
      if (a.profile) {
        const tally = new Map<string, { ms: number; calls: number }>();
        useBackend(profiled(base, tally));
        const t0 = performance.now();
        step();
        const total = performance.now() - t0;
        let kernels = 0;
        for (const e of tally.values()) kernels += e.ms;
        const rows = [...tally.entries()].sort((p, q) => q[1].ms - p[1].ms);
        process.stdout.write(`  profile: step ${total.toFixed(1)} ms, kernels ${kernels.toFixed(1)} ms, outside kernels ${(total - kernels).toFixed(1)} ms\n`);
        for (const [name, e] of rows.slice(0, 40)) {
          if (e.ms < total * 0.002) break;
          process.stdout.write(`    ${name.padEnd(40)} ${e.ms.toFixed(1).padStart(8)} ms ${(100 * e.ms / total).toFixed(1).padStart(5)}%  ${String(e.calls).padStart(5)} calls\n`);
        }
      }
      useBackend(null);
    }
  }
}

// Importable (makeStep) by profiling scripts; runs only as the entry point.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
