// `node dist/bench/hutchinson.js [--probes 10,100,1000,10000] [--seeds 3] [--json] [--budget-s S]`
// How fast the Hutchinson estimate of the Hessian diagonal converges on the tiny golden case
// (tiny_resnet18_w32_seed0, 8 samples, T = 200): its relative L2 error against the exact diagonal
// hessian_diag_T200 for each probe count, next to the error the exact per-entry standard deviation
// predicts (‖std‖ / ‖D‖ · √(10 / K)), and the exact Gauss-Newton diagonal (ggn_diag) for contrast.
import { benchFail, benchFlags, flag, int, jsonFlag, listOf, positive } from './common.js';
import { createModel } from '../src/models/registry.js';
import { loadStateDictFile } from '../src/nn/serialize.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { scoreParameters, type MaskData, type Scores } from '../src/prune/index.js';
import { GOLDEN_SKIP, goldenFile, goldenMeta, goldenTensors } from '../test/helpers/golden.js';
import { at, defined } from '../src/tensor/checked.js';

const CASE = 'tiny_resnet18_w32_seed0';

const o = benchFlags<{ probes: number[]; seeds: number; seedProbes: number; budgetS: number; json?: boolean }>({
  file: 'hutchinson',
  description: `Relative L2 error of hutch_diag against the exact Hessian diagonal on ${CASE}, per probe count.`,
  flags: [
    flag('--probes <list>', 'probe counts per sample', listOf(int(1)), [10, 100, 1000, 10000], '10,100,1000,10000'),
    flag('--seeds <n>', 'independent probe seeds per count (fewer for large counts, see --seed-probes)', int(1), 3),
    flag('--seed-probes <n>', 'counts above this use a single seed', int(1), 100),
    flag('--budget-s <s>', 'skip probe counts whose predicted time would pass this many seconds in total (default: no limit)', positive, Infinity, 'no limit'),
    jsonFlag(),
  ],
  examples: ['node dist/bench/hutchinson.js --json', 'node dist/bench/hutchinson.js --probes 10,100 --seeds 10 --budget-s 600'],
});

if (GOLDEN_SKIP) benchFail(GOLDEN_SKIP);

const meta = goldenMeta(CASE);
function model() {
  const m = createModel('resnet18', { width: 1 / meta.width_divisor, numClasses: meta.num_classes, inChannels: meta.in_channels });
  loadStateDictFile(m, goldenFile(CASE, 'model.safetensors'));
  return m;
}
const batch = goldenTensors(CASE, 'batch.safetensors');
const data: MaskData = { x: defined(batch.get('x'), 'golden batch x'), y: Int32Array.from(defined(batch.get('y'), 'golden batch y').data) };
const D = goldenTensors(CASE, 'hessian_diag_T200.safetensors');
const S = goldenTensors(CASE, 'hutch_std_T200.safetensors');

function sq(m: Map<string, Tensor>): number {
  let s = 0;
  for (const t of m.values()) for (const v of t.data) s += v ** 2;
  return s;
}
const normD = Math.sqrt(sq(D));
const predicted10 = Math.sqrt(sq(S)) / normD;

function relL2(h: Scores): number {
  let s = 0;
  for (const [n, d] of D) {
    const g = defined(h.get(n), 'scores of a golden tensor');
    d.data.forEach((v, i) => { s += (at(g.data, i, 'scores') - v) ** 2; });
  }
  return Math.sqrt(s) / normD;
}

function emit(row: Record<string, unknown>, text: string): void {
  process.stdout.write(o.json ? `${JSON.stringify(row)}\n` : `${text}\n`);
}

{
  const t0 = performance.now();
  const g = scoreParameters(model(), 'ggn_diag', data, {});
  const ms = performance.now() - t0;
  emit({ workload: 'ggn_diag', relL2: relL2(g), ms }, `ggn_diag (exact, no probes)   rel. L2 error ${relL2(g).toExponential(3)}   ${(ms / 1000).toFixed(1)} s`);
}

let spent = 0, msPerProbe = 0;
for (const K of o.probes) {
  const seeds = K > o.seedProbes ? 1 : o.seeds;
  if (msPerProbe > 0 && spent + msPerProbe * K * seeds > o.budgetS * 1000) {
    emit({ workload: `hutch_diag-${K}`, skipped: true, predictedMs: msPerProbe * K * seeds }, `hutch_diag ${String(K).padStart(6)} probes: skipped (predicted ${(msPerProbe * K * seeds / 1000).toFixed(0)} s, over the budget)`);
    continue;
  }
  const errors: number[] = [];
  let ms = 0;
  for (let s = 0; s < seeds; s++) {
    const t0 = performance.now();
    const h = scoreParameters(model(), 'hutch_diag', data, { probes: K, seed: 1000 * K + s });
    const dt = performance.now() - t0;
    ms += dt; spent += dt;
    errors.push(relL2(h));
  }
  msPerProbe = ms / (K * seeds);
  const mean = errors.reduce((a, b) => a + b, 0) / errors.length;
  const sd = errors.length > 1 ? Math.sqrt(errors.reduce((a, b) => a + (b - mean) ** 2, 0) / (errors.length - 1)) : 0;
  const predicted = predicted10 * Math.sqrt(10 / K);
  emit(
    { workload: `hutch_diag-${K}`, probes: K, seeds, relL2: mean, relL2Sd: sd, errors, predicted, msPerRun: ms / seeds },
    `hutch_diag ${String(K).padStart(6)} probes: rel. L2 error ${mean.toFixed(2).padStart(8)}${seeds > 1 ? ` ± ${sd.toFixed(2)} (${seeds} seeds)` : ' (1 seed)'}   predicted ${predicted.toFixed(2).padStart(8)}   ${(ms / seeds / 1000).toFixed(1)} s per run`,
  );
}
