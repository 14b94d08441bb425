// `node dist/bench/race.js --table train|mask [flags]`: the README's performance tables, each from
// one command. pai and every PyTorch named in PAI_TORCH_PYTHON (a comma-separated list of Pythons
// with torch; the first is the reference) run the same workload in turn, round after round, so that
// the host's slow and fast moments fall on every side alike. Each side reports its best and its
// median over all rounds, and the ratios are pai's over each PyTorch's, from this one run. Beside
// the times: pai's counted arithmetic (convolutions and matrix products) per second and its share of
// the machine's multiply-add peak, measured here by the fmaPeak kernel at the same thread count.
//
// Tables:
//   train  training steps (forward, backward, SGD update) on fixed random data: ResNet-20 and
//          ResNet-18 at batch 64 (CIFAR shape) and the study's model, ResNet-20 at width 1/4 on
//          1x28x28 at batch 128; --reps steps a round.
//   mask   mask scoring on ResNet-18 (3x32x32, N(0, 1) images) per criterion, pai's batched
//          per-sample path against the paper's batch-1 loop (bench/torch/bench.py), each timed on
//          --measure-samples samples and scaled to --samples.
import { pathToFileURL } from 'node:url';
import { benchFail, benchFlags, flag, int, jsonFlag, listOf, median, oneOf, openTorch, round, threadsFlag, timeAll, type Torch } from './common.js';
import { makeStep, type StepModel } from './train-step.js';
import { backendInfo, nativeBackend, useBackend, type Backend } from '../src/kernels/index.js';
import type { Conv2dParams, MatmulParams } from '../src/kernels/params.js';
import { createModel } from '../src/models/registry.js';
import { Generator } from '../src/tensor/random.js';
import { randn } from '../src/tensor/create.js';
import { sliceAxes } from '../src/autograd/ops/index.js';
import { criterionNames, scoreParameters, type MaskData } from '../src/prune/index.js';
import { cpuDescription } from '../src/kernels/cpu.js';
import { at, defined } from '../src/tensor/checked.js';

// ---- counted arithmetic and the peak ----

/**
 * The instruction-set caps in effect, as `NAME=value` pairs: how a race emulates a narrower CPU
 * (an AVX2-only one on an AVX-512 machine). ONEDNN_MAX_CPU_ISA caps the oneDNN inside pai (2.x also
 * reads DNNL_MAX_CPU_ISA) and inside PyTorch, ATEN_CPU_CAPABILITY PyTorch's own kernels, and
 * PAI_NATIVE_ISA pai's own loops and the peak kernel. Empty when nothing is capped.
 */
export function isaCaps(env: NodeJS.ProcessEnv = process.env): string[] {
  return ['ONEDNN_MAX_CPU_ISA', 'DNNL_MAX_CPU_ISA', 'ATEN_CPU_CAPABILITY', 'PAI_NATIVE_ISA']
    .filter((k) => env[k] !== undefined && env[k] !== '')
    .map((k) => `${k}=${env[k] ?? ''}`);
}

const convFlops = (p: Conv2dParams): number => 2 * p.n * p.oc * p.oh * p.ow * (p.c / p.groups) * p.kh * p.kw;
const FLOPS: Record<string, (args: unknown[]) => number> = {
  conv2d: (a) => convFlops(a[a.length - 1] as Conv2dParams),
  conv2dBackwardData: (a) => convFlops(a[a.length - 1] as Conv2dParams),
  conv2dBackwardWeight: (a) => convFlops(a[a.length - 1] as Conv2dParams),
  conv2dWeightGradMoments: (a) => convFlops(a[a.length - 1] as Conv2dParams),
  conv2dWeightGradProbeDot: (a) => convFlops(a[a.length - 1] as Conv2dParams),
  matmul: (a) => {
    const p = a[a.length - 1] as MatmulParams;
    return 2 * p.batch * p.m * p.n * p.k;
  },
};

/** The convolution and matrix-product flops that fn makes the backend compute. */
export function countFlops(b: Backend, fn: () => void): number {
  let flops = 0;
  const counting = Object.create(b) as Record<string, unknown>;
  for (const [name, f] of Object.entries(FLOPS)) {
    const k = defined((b as unknown as Record<string, ((...a: unknown[]) => unknown) | undefined>)[name], `the backend's ${name}`);
    counting[name] = (...args: unknown[]): unknown => {
      flops += f(args);
      return k.apply(b, args);
    };
  }
  useBackend(counting as unknown as Backend);
  try {
    fn();
  } finally {
    useBackend(null);
  }
  return flops;
}

/** The machine's multiply-add peak at the backend's thread count (GFLOP/s), best of 5 runs of about 0.1 s. */
export function measurePeak(b: Backend): number {
  const out = new Float32Array(3);
  b.fmaPeak(1000, 1, 0.5, out);
  const iters = 1_000_000;
  let best = Infinity;
  for (let r = 0; r < 5; r++) {
    const t0 = performance.now();
    b.fmaPeak(iters, 1, 0.5, out);
    best = Math.min(best, performance.now() - t0);
  }
  return iters * at(out, 1, 'fmaPeak flops') * at(out, 2, 'fmaPeak threads') / best / 1e6;
}

// ---- sides and rounds ----

interface Side {
  name: string;
  /** One round of the workload: its times (ms); null when this side cannot run it. */
  round(w: Workload): number[] | null;
}

interface Workload {
  table: 'train' | 'mask';
  label: string;
  /** Multiplies a measured time into the reported one (mask rows timed on fewer samples). */
  scale: number;
  pai(): number[];
  /** bench/torch/bench.py arguments, without --threads; null when PyTorch has no twin. */
  torchArgs: string[] | null;
  /** The time field of PyTorch's answer that rounds collect. */
  torchField: 'times' | 'score_ms';
  flops: number;
}

interface SideResult { times: number[]; failed: string | null }

function torchSide(python: string, threads: number): { side: Side; version: string } | { error: string } {
  const t: Torch = openTorch({ ...process.env, PAI_TORCH_PYTHON: python });
  if (t.skipped) return { error: t.skipped };
  const probe = t.run(['--probe']);
  const version = typeof probe?.['torch'] === 'string' ? probe['torch'] : '?';
  return {
    version,
    side: {
      name: `PyTorch ${version}`,
      round(w) {
        if (!w.torchArgs) return null;
        const r = t.run([...w.torchArgs, '--threads', String(threads)]);
        if (!r) throw new Error(`${python}: ${t.lastError}`);
        const v = r[w.torchField] as unknown;
        return Array.isArray(v) ? v.map(Number) : [Number(v)];
      },
    },
  };
}

const paiSide: Side = { name: 'pai', round: (w) => w.pai() };

// ---- workloads ----

interface TrainSpec { model: string; batch: number; width?: number; inChannels?: number; imageSize?: number; label: string }

const TRAIN: TrainSpec[] = [
  { model: 'resnet20', batch: 64, label: 'ResNet-20 training step, batch 64' },
  { model: 'resnet18', batch: 64, label: 'ResNet-18 training step, batch 64' },
  { model: 'resnet20', batch: 128, width: 0.25, inChannels: 1, imageSize: 28, label: 'ResNet-20 width 1/4 on 1x28x28 (the study\'s model), batch 128' },
];

function trainWorkload(s: TrainSpec, reps: number, backend: Backend): Workload {
  const spec: StepModel = { model: s.model, width: s.width, inChannels: s.inChannels, imageSize: s.imageSize };
  const step = makeStep(spec, s.batch);
  step();
  const flops = countFlops(backend, step);
  return {
    table: 'train', label: s.label, scale: 1, flops,
    pai: () => timeAll(step, reps),
    torchArgs: ['train', '--model', s.model, '--batch', String(s.batch), '--reps', String(reps),
      '--width', String(s.width ?? 1), '--in-channels', String(s.inChannels ?? 3), '--image-size', String(s.imageSize ?? 32)],
    torchField: 'times',
  };
}

const PAI_ONLY = new Set(['ggn_diag', 'ggn_pruning', 'ggn_ts']);

function maskWorkloads(criteria: string[], samples: number, measured: number, backend: Backend): Workload[] {
  const model = createModel('resnet18', { seed: 0 });
  const g = new Generator(0, 'bench-prune');
  const x = randn([samples, 3, 32, 32], g);
  const y = Int32Array.from({ length: samples }, (_, i) => i % 10);
  const data: MaskData = { x: sliceAxes(x, [[0, measured], null, null, null]), y: y.subarray(0, measured) };
  const w = Math.min(2, samples);
  const warm: MaskData = { x: sliceAxes(x, [[0, w], null, null, null]), y: y.subarray(0, w) };
  return criteria.map((name) => {
    const score = (): void => { scoreParameters(model, name, data, { inputShape: [3, 32, 32] }); };
    // Untimed, as PyTorch's side scores one sample first: every pass has then run once.
    scoreParameters(model, name, warm, { inputShape: [3, 32, 32] });
    const flops = countFlops(backend, score) * samples / measured;
    return {
      table: 'mask', label: name, scale: samples / measured, flops,
      pai: () => {
        const t0 = performance.now();
        score();
        return [performance.now() - t0];
      },
      torchArgs: PAI_ONLY.has(name) ? null : ['mask', '--criterion', name, '--samples', String(measured)],
      torchField: 'score_ms',
    };
  });
}

// ---- the table ----

interface Args { table: 'train' | 'mask'; rounds: number; reps: number; threads?: number; criteria: string[]; samples: number; measureSamples: number; models?: string[]; json?: boolean }

const fmtMs = (ms: number): string => ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : ms >= 1000 ? `${Math.round(ms).toLocaleString('en-US')} ms` : `${ms.toFixed(ms >= 100 ? 0 : 1)} ms`;

function main(): void {
  const a = benchFlags<Args>({
    file: 'race',
    description: 'The README\'s performance tables: pai and each PyTorch of PAI_TORCH_PYTHON (comma-separated) alternating, best and median per side, GFLOP/s and share of the multiply-add peak.',
    flags: [
      flag('--table <which>', 'train (training steps) or mask (mask scoring per criterion)', oneOf(() => ['train', 'mask']), 'train'),
      flag('--rounds <n>', 'rounds; every side runs each workload once a round', int(1), 4),
      flag('--reps <n>', 'train: timed steps per round, after one warm-up step', int(1), 5),
      flag('--models <list>', 'train: rows to run, by model name (resnet20 covers both ResNet-20 rows)', listOf(oneOf(() => ['resnet20', 'resnet18', 'study']))),
      flag('--criteria <list>', 'mask: criteria', listOf(oneOf(criterionNames)), ['snip', 'fisher_diag', 'fts', 'hutch_diag', 'ggn_diag'], 'snip,fisher_diag,fts,hutch_diag,ggn_diag'),
      flag('--samples <n>', 'mask: samples the scoring time is reported for', int(1), 100),
      flag('--measure-samples <n>', 'mask: samples each round times, scaled to --samples (a call\'s fixed cost, about 0.3 s, is scaled too: keep it large)', int(1), 100),
      threadsFlag(),
      jsonFlag('one JSON object per workload instead of the markdown table'),
    ],
    examples: [
      'node dist/bench/race.js --table train --models study --rounds 2',
      'PAI_TORCH_PYTHON=v/bin/python,/usr/bin/python3 node dist/bench/race.js --table train --threads 2',
      'PAI_TORCH_PYTHON=v/bin/python node dist/bench/race.js --table mask --criteria hutch_diag --threads 2 --measure-samples 10 --rounds 3',
      'ONEDNN_MAX_CPU_ISA=AVX2 DNNL_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2 PAI_NATIVE_ISA=avx2 PAI_TORCH_PYTHON=v/bin/python node dist/bench/race.js --table train --threads 1',
    ],
  });
  const backend = nativeBackend();
  if (!backend) benchFail('the race needs the native backend; run `node scripts/build-native.mjs`');
  if (a.threads !== undefined) backend.setNumThreads(a.threads);
  const threads = backend.numThreads();
  useBackend(backend);

  const torches: Side[] = [];
  for (const python of (process.env['PAI_TORCH_PYTHON'] ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
    const t = torchSide(python, threads);
    if ('error' in t) process.stderr.write(`race: skipping ${python}: ${t.error}\n`);
    else torches.push(t.side);
  }
  if (torches.length === 0) process.stderr.write('race: no PyTorch side (set PAI_TORCH_PYTHON to one or more comma-separated Pythons with torch)\n');

  const peak = measurePeak(backend);
  const want = (m: string): boolean => !a.models || a.models.includes(m);
  const workloads = a.table === 'train'
    ? TRAIN.filter((s) => want(s.width !== undefined ? 'study' : s.model)).map((s) => trainWorkload(s, a.reps, backend))
    : maskWorkloads(a.criteria, a.samples, Math.min(a.measureSamples, a.samples), backend);

  const sides = [paiSide, ...torches];
  const results = workloads.map(() => sides.map((): SideResult => ({ times: [], failed: null })));
  const t0 = performance.now();
  for (let r = 0; r < a.rounds; r++) {
    workloads.forEach((w, wi) => {
      sides.forEach((s, si) => {
        const res = at(at(results, wi, 'workload results'), si, 'side results');
        if (res.failed) return;
        try {
          const ts = s.round(w);
          if (ts === null) res.failed = 'no PyTorch twin';
          else res.times.push(...ts.map((t) => t * w.scale));
        } catch (e) {
          res.failed = e instanceof Error ? e.message : String(e);
          process.stderr.write(`race: ${s.name} ${w.label}: ${res.failed}\n`);
        }
      });
    });
    const el = (performance.now() - t0) / 1000;
    process.stderr.write(`race: round ${r + 1}/${a.rounds} done, ${el.toFixed(0)} s, about ${(el / (r + 1) * (a.rounds - r - 1)).toFixed(0)} s left\n`);
  }

  const info = backendInfo();
  const cpu = cpuDescription();
  const stats = (xs: number[]): { best: number; median: number } | null => xs.length ? { best: Math.min(...xs), median: median(xs) } : null;
  const rows = workloads.map((w, wi) => {
    const per = sides.map((s, si) => {
      const times = at(at(results, wi, 'workload results'), si, 'side results').times;
      return { side: s.name, ...stats(times), n: times.length };
    });
    const pai = at(per, 0, 'pai side');
    const gflops = pai.best ? w.flops / pai.best / 1e6 : 0;
    return { w, per, pai, gflops, ofPeak: gflops / peak };
  });

  if (a.json) {
    for (const { w, per, gflops, ofPeak } of rows) {
      process.stdout.write(JSON.stringify({
        table: w.table, workload: w.label, threads, cpu, isa_caps: isaCaps(), peak_gflops: round(peak, 1), gflop: round(w.flops / 1e9, 3), gflops: round(gflops, 1), of_peak: round(ofPeak, 3),
        sides: per.map((p) => ({ side: p.side, best_ms: p.best === undefined ? null : round(p.best, 2), median_ms: p.median === undefined ? null : round(p.median, 2), n: p.n })),
      }) + '\n');
    }
    return;
  }
  const env = `${threads} thread${threads > 1 ? 's' : ''}`;
  const out: string[] = [];
  const ni = (backend as Backend & { info?: () => { isa: string; onednn: string } }).info?.();
  const caps = isaCaps();
  out.push(`${cpu}, ${env}; pai ${info.name}${ni ? ` (loops ${ni.isa}, oneDNN ${ni.onednn})` : ''}; multiply-add peak ${peak.toFixed(0)} GFLOP/s at ${env}.`);
  if (caps.length > 0) out.push(`Instruction sets capped for every side: ${caps.join(', ')}.`);
  out.push(`${a.rounds} rounds${a.table === 'train' ? ` of ${a.reps} steps` : ''}, sides alternating; best / median over all rounds${a.table === 'mask' ? `, scoring timed on ${Math.min(a.measureSamples, a.samples)} samples and scaled to ${a.samples}` : ''}.`);
  out.push('');
  const head = ['workload', 'pai best / median', ...torches.flatMap((t) => [`${t.name} best / median`, `pai / ${t.name.replace('PyTorch ', '')} (best, median)`]), 'pai GFLOP/s (share of peak)'];
  out.push(`| ${head.join(' | ')} |`);
  out.push(`|${head.map(() => '---').join('|')}|`);
  for (const { w, per, pai, gflops, ofPeak } of rows) {
    const cells = [w.label, pai.best !== undefined && pai.median !== undefined ? `${fmtMs(pai.best)} / ${fmtMs(pai.median)}` : '—'];
    for (const p of per.slice(1)) {
      if (p.best === undefined || p.median === undefined || pai.best === undefined || pai.median === undefined) { cells.push('—', '—'); continue; }
      cells.push(`${fmtMs(p.best)} / ${fmtMs(p.median)}`, `${(pai.best / p.best).toFixed(2)}, ${(pai.median / p.median).toFixed(2)}`);
    }
    cells.push(`${gflops.toFixed(0)} (${(ofPeak * 100).toFixed(0)} %)`);
    out.push(`| ${cells.join(' | ')} |`);
  }
  process.stdout.write(out.join('\n') + '\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) main();
