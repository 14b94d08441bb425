// Engine benchmark: GFLOP/s of the kernels that dominate training (1024^3 matmul, 3x3 conv
// forward / backward-data / backward-weights) and the time of one ResNet-20 training step, for
// each backend. Times are medians over repetitions after one warm-up run.

import { jsBackend, nativeBackend, useBackend, type Backend } from '../src/kernels/index.js';
import { Generator } from '../src/tensor/random.js';
import { conv2dParams } from '../src/autograd/ops/conv.js';
import { timeMedian } from './common.js';
import { makeStep } from './train-step.js';

export interface BenchRow {
  workload: 'matmul-1024' | 'conv3x3-fwd' | 'conv3x3-bwd-data' | 'conv3x3-bwd-weights' | 'resnet20-train-b64';
  backend: 'native' | 'js';
  threads: number;
  ms: number;
  gflops?: number;
}

function randomArray(n: number, gen: Generator): Float32Array {
  const a = new Float32Array(n);
  gen.fillNormal(a);
  return a;
}

export function benchKernels(b: Backend, reps: number): BenchRow[] {
  const gen = new Generator(0, 'bench');
  const threads = b.numThreads();
  const rows: BenchRow[] = [];
  const n = 1024;
  const A = randomArray(n * n, gen), B = randomArray(n * n, gen), C = new Float32Array(n * n);
  const mm = timeMedian(() => b.matmul(A, B, C, { batch: 1, m: n, k: n, n, transA: false, transB: false, aBatchStride: 0, bBatchStride: 0, accumulate: false }), reps);
  rows.push({ workload: 'matmul-1024', backend: b.name, threads, ms: mm, gflops: (2 * n * n * n) / mm / 1e6 });

  const p = conv2dParams([64, 64, 32, 32], [64, 64, 3, 3], { padding: 1 });
  const flops = 2 * p.n * p.oc * p.oh * p.ow * p.c * p.kh * p.kw;
  const x = randomArray(64 * 64 * 32 * 32, gen), w = randomArray(64 * 64 * 9, gen);
  const y = new Float32Array(64 * 64 * 32 * 32), gx = new Float32Array(x.length), gw = new Float32Array(w.length);
  const f = timeMedian(() => b.conv2d(x, w, null, y, p), reps);
  rows.push({ workload: 'conv3x3-fwd', backend: b.name, threads, ms: f, gflops: flops / f / 1e6 });
  const bd = timeMedian(() => b.conv2dBackwardData(y, w, gx, p), reps);
  rows.push({ workload: 'conv3x3-bwd-data', backend: b.name, threads, ms: bd, gflops: flops / bd / 1e6 });
  const bw = timeMedian(() => b.conv2dBackwardWeight(x, y, gw, p), reps);
  rows.push({ workload: 'conv3x3-bwd-weights', backend: b.name, threads, ms: bw, gflops: flops / bw / 1e6 });
  return rows;
}

/** One SGD training step (forward, backward, update) of ResNet-20 at batch 64 on 3x32x32. */
export function benchTrainStep(b: Backend, reps: number): BenchRow {
  useBackend(b);
  try {
    const step = makeStep('resnet20', 64);
    return { workload: 'resnet20-train-b64', backend: b.name, threads: b.numThreads(), ms: timeMedian(step, reps) };
  } finally {
    useBackend(null);
  }
}

export interface BenchOptions { backends: ('native' | 'js')[]; threads?: number; reps: number; jsReps: number; skip: Set<string> }

export function* runEngineBench(o: BenchOptions): IterableIterator<BenchRow | { skipped: string }> {
  for (const name of o.backends) {
    const b = name === 'native' ? nativeBackend() : jsBackend;
    if (!b) {
      yield { skipped: 'native backend not built (see the install log); run with --backend js' };
      continue;
    }
    if (o.threads !== undefined) b.setNumThreads(o.threads);
    const reps = name === 'js' ? o.jsReps : o.reps;
    if (!o.skip.has('kernels')) yield* benchKernels(b, reps);
    if (!o.skip.has('train')) yield benchTrainStep(b, reps);
  }
}
