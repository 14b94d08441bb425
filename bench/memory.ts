// Memory over a long training run: `node dist/bench/memory.js [--model resnet20] [--width 0.25]
// [--steps 1000] [--batch 64] [--threads 1]`. Trains a real model from the zoo on random
// Fashion-MNIST-shaped data (1x28x28, 10 classes) through trainModel, with 90% of the prunable
// weights masked and SGD with momentum and weight decay, and samples heapUsed, the typed-array
// backing stores (arrayBuffers, where tensor data lives) and the RSS after forced collections every
// 100 steps (between epochs of 20 steps). A per-step leak shows up as a positive slope after
// warm-up; the printed slope is a least-squares fit over the samples from step 200 on.

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Tensor } from '../src/tensor/tensor.js';
import { randn } from '../src/tensor/create.js';
import { Generator } from '../src/tensor/random.js';
import { backendInfo, setNumThreads } from '../src/kernels/index.js';
import { createModel, modelNames } from '../src/models/index.js';
import { benchFlags, flag, int, oneOf, threadsFlag, width } from './common.js';
import { trainModel } from '../src/train/index.js';

const o = benchFlags<{ model: string; width: number; steps: number; batch: number; threads?: number }>({
  file: 'memory',
  description: 'Heap, typed-array storage and RSS over a long masked training run on random 1x28x28 data, sampled every 100 steps, with the per-step slope.',
  flags: [
    flag('--model <name>', 'model from the zoo', oneOf(modelNames), 'resnet20'),
    flag('--width <w>', 'width multiplier, a decimal or a fraction (1/4 = 0.25)', width, 0.25),
    flag('--steps <n>', 'training steps (rounded up to whole epochs of 20)', int(1), 1000),
    flag('--batch <n>', 'batch size', int(1), 64),
    threadsFlag(),
  ],
  examples: ['node dist/bench/memory.js --steps 1000 --threads 1', 'node dist/bench/memory.js --model resnet20 --width 1/4 --steps 200 --batch 32'],
});

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
if (o.threads) setNumThreads(o.threads);

const model = createModel(o.model, { width: o.width, inChannels: 1, imageSize: 28, numClasses: 10, seed: 0 });
const g = new Generator(1);
// A fixed pool of batches: the loader's own allocations are not what is measured here.
const pool = Array.from({ length: 20 }, () => ({ x: randn([o.batch, 1, 28, 28], g), y: Int32Array.from({ length: o.batch }, () => g.int(10)) }));
const masks = new Map<string, Tensor>();
for (const [n, p] of model.namedParameters()) {
  if (p.ndim < 2 || n.startsWith(`${model.classifierName}.`)) continue;
  masks.set(n, new Tensor(Float32Array.from({ length: p.size }, () => (g.uniform() < 0.1 ? 1 : 0)), p.shape));
}

interface Sample { step: number; heap: number; buffers: number; rss: number; sec: number }
const samples: Sample[] = [];
const t0 = performance.now();
const mb = (b: number): string => (b / 2 ** 20).toFixed(2);
const epochs = Math.ceil(o.steps / pool.length);
process.stdout.write(`${o.model} width ${o.width}, batch ${o.batch}, ${model.numParameters()} parameters, ${epochs * pool.length} steps, backend ${backendInfo().name} (${backendInfo().threads} threads)\n`);
process.stdout.write('step   heapUsed MB   arrayBuffers MB   rss MB   seconds\n');
await trainModel(model, {
  train: pool, epochs, masks,
  optimizer: { name: 'sgd', lr: 0.01, momentum: 0.9, weightDecay: 5e-4 },
  // Sampled between epochs, where nothing of a step is alive: after a collection, a turn of the
  // event loop (native finalizers that free tensor memory run there) and a second collection.
  onEpoch: async (r) => {
    const step = r.epoch * pool.length;
    if (step % 100 !== 0) return;
    gc();
    await new Promise((res) => setImmediate(res));
    gc();
    const m = process.memoryUsage();
    const s = { step, heap: m.heapUsed, buffers: m.arrayBuffers, rss: m.rss, sec: (performance.now() - t0) / 1000 };
    samples.push(s);
    process.stdout.write(`${String(s.step).padStart(4)}   ${mb(s.heap).padStart(11)}   ${mb(s.buffers).padStart(15)}   ${mb(s.rss).padStart(6)}   ${s.sec.toFixed(1).padStart(7)}\n`);
  },
});

function slope(key: 'heap' | 'buffers' | 'rss'): number {
  const pts = samples.filter((s) => s.step >= 200);
  if (pts.length < 2) return NaN;
  const mx = pts.reduce((a, s) => a + s.step, 0) / pts.length;
  const my = pts.reduce((a, s) => a + s[key], 0) / pts.length;
  let num = 0, den = 0;
  for (const s of pts) { num += (s.step - mx) * (s[key] - my); den += (s.step - mx) ** 2; }
  return num / den;
}
const first = samples.find((s) => s.step >= 200), last = samples[samples.length - 1];
if (first && last) {
  process.stdout.write(`from step ${first.step} to ${last.step}: heap ${mb(last.heap - first.heap)} MB, arrayBuffers ${mb(last.buffers - first.buffers)} MB, rss ${mb(last.rss - first.rss)} MB\n`);
  process.stdout.write(`slope (bytes/step): heap ${slope('heap').toFixed(0)}, arrayBuffers ${slope('buffers').toFixed(0)}, rss ${slope('rss').toFixed(0)}\n`);
}
