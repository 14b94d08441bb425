// One Hessian-vector product on ResNet-20 at batch 64 (3x32x32, random data, train mode as in a
// training step) as a multiple of one gradient: both start from the parameters and end with the
// result tensors, so the forward pass is inside both times. The HVP is the double-backprop one of
// src/autograd (recorded first backward, second backward of <g, v>), v Rademacher.
//
//   node dist/bench/hvp.js [--json] [--model resnet20] [--batch 64] [--reps 5] [--threads N]

import { pathToFileURL } from 'node:url';
import { useBackend, type Backend } from '../src/kernels/index.js';
import { Generator } from '../src/tensor/random.js';
import { randn, rademacher } from '../src/tensor/create.js';
import { grad, hvp } from '../src/autograd/graph.js';
import { crossEntropy } from '../src/autograd/ops/index.js';
import { createModel, modelNames } from '../src/models/registry.js';
import { flag, int, oneOf, repsFlag, Reporter, round, standaloneSuite, timeMedian, withTorch, type Torch } from './common.js';

export interface HvpOptions { model?: string; batch?: number; reps: number; backend: Backend }

export function runHvpSuite(o: HvpOptions, rep: Reporter, torch: Torch): void {
  const name = o.model ?? 'resnet20', batch = o.batch ?? 64;
  useBackend(o.backend);
  let gradMs: number, hvpMs: number;
  try {
    const gen = new Generator(0, 'bench-hvp');
    const model = createModel(name, { numClasses: 10, seed: 0 });
    model.train();
    const params = model.parameters();
    const x = randn([batch, 3, 32, 32], gen);
    const y = Int32Array.from({ length: batch }, (_, i) => i % 10);
    const v = params.map((p) => rademacher(p.shape, gen));
    const loss = () => crossEntropy(model.forward(x), y);
    gradMs = timeMedian(() => void grad(loss(), params, { allowUnused: true }), o.reps);
    hvpMs = timeMedian(() => void hvp(loss, params, v), o.reps);
  } finally {
    useBackend(null);
  }
  const threads = o.backend.numThreads();
  const t = torch.skipped ? null : torch.run(['hvp', '--model', name, '--batch', String(batch), '--threads', String(threads), '--reps', String(o.reps)]);
  if (!torch.skipped && !t) rep.note(`torch hvp ${name} b${batch} failed: ${torch.lastError}`);
  const tg = t?.['grad_ms'] as number | undefined, th = t?.['hvp_ms'] as number | undefined;
  const base = { suite: 'hvp', backend: o.backend.name, threads };
  rep.row(withTorch({ ...base, workload: `grad-${name}-b${batch}`, ms: round(gradMs), images_per_s: round(batch / gradMs * 1000, 1) }, tg));
  // hvp_per_grad is the figure of the target: pai's must not exceed PyTorch's.
  const row = withTorch({ ...base, workload: `hvp-${name}-b${batch}`, ms: round(hvpMs), hvp_per_grad: round(hvpMs / gradMs, 3) }, th);
  if (typeof tg === 'number' && typeof th === 'number' && tg > 0) row['torch_hvp_per_grad'] = round(th / tg, 3);
  rep.row(row);
}

function main(): void {
  standaloneSuite<{ model: string; batch: number; reps: number }>({
    file: 'hvp',
    description: 'One Hessian-vector product as a multiple of one gradient (train mode, random 3x32x32 data), and PyTorch\'s when PAI_TORCH_PYTHON names a Python with torch.',
    flags: [
      flag('--model <name>', 'model from the zoo', oneOf(modelNames), 'resnet20'),
      flag('--batch <n>', 'batch size', int(1), 64),
      repsFlag(5),
    ],
    examples: ['node dist/bench/hvp.js --model resnet20 --batch 64 --reps 5 --threads 2'],
  }, (o, backend, rep, torch) => runHvpSuite({ model: o.model, batch: o.batch, reps: o.reps, backend }, rep, torch));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
