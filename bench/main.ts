// `npm run bench [-- --json] [--threads N] [--backend native|js|both] [--reps R]`
import { Command, InvalidArgumentError } from 'commander';
import { runEngineBench, type BenchRow } from './engine.js';

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

const program = new Command('pai-bench')
  .description('Time pai\'s engine: matmul and 3x3 convolution GFLOP/s, and a ResNet-20 training step, per backend.')
  .option('--json', 'one JSON object per line')
  .option('--threads <n>', 'threads for the native backend (default: all cores)', positiveInt)
  .option('--backend <which>', 'native, js or both', 'both')
  .option('--reps <n>', 'timed repetitions per workload (native)', positiveInt, 5)
  .option('--js-reps <n>', 'timed repetitions per workload on the slow reference backend', positiveInt, 1)
  .option('--skip <what>', 'comma-separated: kernels, train', '')
  .showHelpAfterError();
program.parse();
const o = program.opts<{ json?: boolean; threads?: number; backend: string; reps: number; jsReps: number; skip: string }>();
if (!['native', 'js', 'both'].includes(o.backend)) {
  process.stderr.write(`pai-bench: --backend must be native, js or both, got "${o.backend}"\n`);
  process.exit(2);
}
const backends = o.backend === 'both' ? (['native', 'js'] as const) : ([o.backend] as ['native' | 'js']);
const rows: BenchRow[] = [];
for (const r of runEngineBench({ backends: [...backends], threads: o.threads, reps: o.reps, jsReps: o.jsReps, skip: new Set(o.skip.split(',').filter(Boolean)) })) {
  if ('skipped' in r) {
    process.stderr.write(`skipped: ${r.skipped}\n`);
    continue;
  }
  rows.push(r);
  if (o.json) process.stdout.write(JSON.stringify(r) + '\n');
  else process.stdout.write(`${r.workload.padEnd(22)} ${r.backend.padEnd(7)} threads=${r.threads}  ${r.ms.toFixed(2).padStart(10)} ms${r.gflops !== undefined ? `  ${r.gflops.toFixed(2).padStart(8)} GFLOP/s` : ''}\n`);
}
if (!o.json) {
  const nat = rows.find((r) => r.backend === 'native' && r.workload === 'conv3x3-fwd');
  const js = rows.find((r) => r.backend === 'js' && r.workload === 'conv3x3-fwd');
  if (nat && js) process.stdout.write(`native / js speed-up on the 3x3 conv forward: ${(js.ms / nat.ms).toFixed(1)}x\n`);
}
