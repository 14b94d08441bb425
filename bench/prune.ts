// `node dist/bench/prune.js [--criteria a,b] [--samples 100] [--measure-samples N] [--json]`
// Mask-generation time of every criterion on the paper's workload: ResNet-18 (width 1, CIFAR-10
// shape 3x32x32), 100 mask samples (10 per class, random N(0, 1) images), mask batch size 1,
// global masks at 90 % sparsity. The time is scoring plus the mask (for SynFlow its 100
// prune-rescore iterations). With --measure-samples N < --samples the data-driven criteria are
// timed on the first N samples and scaled linearly to --samples (each sample costs the same passes);
// such rows carry "extrapolatedFrom": N.
import { Command, InvalidArgumentError } from 'commander';
import { createModel } from '../src/models/registry.js';
import { Generator } from '../src/tensor/random.js';
import { randn } from '../src/tensor/create.js';
import { sliceAxes } from '../src/autograd/ops/index.js';
import { backendInfo } from '../src/kernels/index.js';
import { criteria, getCriterion, iterativePrune, makeMasks, prunableSet, scoreParameters, type MaskData } from '../src/prune/index.js';

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

const program = new Command('pai-bench-prune')
  .description('Mask-generation time per criterion on ResNet-18 / CIFAR-10 shape, 100 mask samples, batch 1.')
  .option('--criteria <list>', 'comma-separated criteria (default: all)')
  .option('--samples <n>', 'mask samples (10 per class)', positiveInt, 100)
  .option('--measure-samples <n>', 'time data-driven criteria on this many samples and scale to --samples', positiveInt)
  .option('--synflow-iterations <n>', 'SynFlow prune-rescore iterations', positiveInt, 100)
  .option('--measure-iterations <n>', 'time SynFlow on this many iterations of the schedule and scale to --synflow-iterations', positiveInt)
  .option('--sparsity <s>', 'mask sparsity', Number, 0.9)
  .option('--json', 'one JSON object per line: {"workload":"mask-<criterion>","ms":...}')
  .showHelpAfterError();
program.parse();
const o = program.opts<{ criteria?: string; samples: number; measureSamples?: number; synflowIterations: number; measureIterations?: number; sparsity: number; json?: boolean }>();

const names = o.criteria ? o.criteria.split(',') : criteria().map((c) => c.name);
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
  process.stdout.write(`resnet18 width 1, ${model.numParameters()} parameters, ${o.samples} mask samples, batch 1, sparsity ${o.sparsity}${measured < o.samples ? ` (data criteria timed on ${measured} samples, scaled)` : ''}\n`);
}

class StopEarly extends Error {}

for (const name of names) {
  const c = getCriterion(name);
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
  } else {
    const scores = scoreParameters(model, name, c.needsData ? data : null, { inputShape: [3, 32, 32] });
    makeMasks(scores, prunable, o.sparsity, 'global');
  }
  const raw = performance.now() - t0;
  const iters = Math.min(o.measureIterations ?? o.synflowIterations, o.synflowIterations);
  const factor = name === 'synflow' ? o.synflowIterations / iters : c.needsData ? o.samples / measured : 1;
  const scaled = factor !== 1;
  const ms = raw * factor;
  const row: Record<string, unknown> = { workload: `mask-${name}`, ms, samples: o.samples };
  if (scaled) { row['extrapolatedFrom'] = name === 'synflow' ? iters : measured; row['measuredMs'] = raw; }
  if (name === 'synflow') row['iterations'] = o.synflowIterations;
  row['backend'] = info.name;
  row['threads'] = info.threads;
  if (o.json) process.stdout.write(`${JSON.stringify(row)}\n`);
  else process.stdout.write(`${name.padEnd(14)} ${(ms / 1000).toFixed(1).padStart(9)} s${scaled ? `  (measured ${(raw / 1000).toFixed(1)} s on ${name === 'synflow' ? `${iters} iterations` : `${measured} samples`}, scaled)` : ''}\n`);
}
