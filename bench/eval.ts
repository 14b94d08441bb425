// Evaluation throughput: images/s of the forward pass in eval mode (running batch-norm statistics)
// with gradient recording off, as an evaluation loop runs it, on random 3x32x32 batches.
//
//   node dist/bench/eval.js [--json] [--models resnet20,resnet18] [--batch 128] [--reps 5] [--threads N]

import { pathToFileURL } from 'node:url';
import { useBackend, type Backend } from '../src/kernels/index.js';
import { Generator } from '../src/tensor/random.js';
import { randn } from '../src/tensor/create.js';
import { noGrad } from '../src/autograd/graph.js';
import { createModel, modelNames } from '../src/models/registry.js';
import { flag, int, listOf, oneOf, repsFlag, Reporter, round, standaloneSuite, timeMedian, withTorch, type Torch } from './common.js';

export const EVAL_MODELS = ['resnet20', 'resnet18'];

export interface EvalOptions { models?: string[]; batch?: number; reps: number; backend: Backend }

export function runEvalSuite(o: EvalOptions, rep: Reporter, torch: Torch): void {
  const batch = o.batch ?? 128;
  for (const name of o.models ?? EVAL_MODELS) {
    useBackend(o.backend);
    let ms: number;
    try {
      const model = createModel(name, { numClasses: 10, seed: 0 });
      model.eval();
      const x = randn([batch, 3, 32, 32], new Generator(0, 'bench-eval'));
      ms = timeMedian(() => void noGrad(() => model.forward(x)), o.reps);
    } finally {
      useBackend(null);
    }
    const threads = o.backend.numThreads();
    const t = torch.skipped ? null : torch.run(['eval', '--model', name, '--batch', String(batch), '--threads', String(threads), '--reps', String(o.reps)]);
    if (!torch.skipped && !t) rep.note(`torch eval ${name} b${batch} failed: ${torch.lastError}`);
    rep.row(withTorch({
      suite: 'eval', workload: `eval-${name}-b${batch}`, backend: o.backend.name, threads,
      ms: round(ms), images_per_s: round(batch / ms * 1000, 1),
    }, t?.['ms'] as number | undefined));
  }
}

function main(): void {
  standaloneSuite<{ models: string[]; batch: number; reps: number }>({
    file: 'eval',
    description: 'Evaluation throughput (images/s of the eval-mode forward pass without gradients) on random 3x32x32 batches, and PyTorch\'s when PAI_TORCH_PYTHON names a Python with torch.',
    flags: [
      flag('--models <list>', 'comma-separated models', listOf(oneOf(modelNames)), EVAL_MODELS, EVAL_MODELS.join(',')),
      flag('--batch <n>', 'batch size', int(1), 128),
      repsFlag(5),
    ],
    examples: ['node dist/bench/eval.js --models resnet20 --batch 128 --reps 5 --threads 2', 'node dist/bench/eval.js --json'],
  }, (o, backend, rep, torch) => runEvalSuite({ models: o.models, batch: o.batch, reps: o.reps, backend }, rep, torch));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
