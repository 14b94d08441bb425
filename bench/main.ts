// `npm run bench [-- --suite quick|all|engine,train,hvp,mask,eval,loader] [--json] [--threads N] ...`
// The one entry point for every workload of the performance issue. Each suite lives in its own
// file (runnable on its own too); this file picks the suites, the quick or full sizes, and opens
// the PyTorch side (PAI_TORCH_PYTHON) once for all of them.
import { jsBackend, nativeBackend, type Backend } from '../src/kernels/index.js';
import { runEngineBench } from './engine.js';
import { runTrainSuite } from './train-step.js';
import { runHvpSuite } from './hvp.js';
import { runEvalSuite } from './eval.js';
import { runMaskSuite, MASK_DEFAULTS } from './prune.js';
import { runLoaderSuite } from './loader.js';
import { runSparseSuite, SPARSE_DEFAULTS, SPARSE_PARTS } from './sparse.js';
import { backendFlag, benchFail, benchFlags, flag, fraction, int, jsonFlag, listOf, oneOf, openTorch, repsFlag, Reporter, round, threadsFlag, withTorch, type Torch } from './common.js';
import { modelNames } from '../src/models/registry.js';
import { criterionNames } from '../src/prune/index.js';

const SUITES = ['engine', 'train', 'hvp', 'mask', 'eval', 'loader', 'sparse'] as const;
// Suites too long for the quick default; `all` or naming them runs them.
const NOT_QUICK: readonly string[] = ['sparse'];
type Suite = (typeof SUITES)[number];
const models = listOf(oneOf(modelNames));

const o = benchFlags<{
  suite: string[]; json?: boolean; threads?: number; backend: string; reps?: number; jsReps: number; skip?: string[];
  models?: string[]; batches?: number[]; evalModels?: string[]; evalBatch: number; hvpBatch: number;
  criteria?: string[]; samples: number; measureSamples?: number; measureIterations?: number; images?: number;
  sparsities?: number[]; sparseModels?: string[]; sparseParts?: (typeof SPARSE_PARTS)[number][];
}>({
  file: 'main',
  description: 'Time pai on the workloads of the performance issue, and PyTorch on the same ones when PAI_TORCH_PYTHON names a Python with torch.',
  flags: [
    flag('--suite <list>', `quick (a subset that takes a few minutes), all, or comma-separated: ${SUITES.join(', ')}`, listOf(oneOf(() => ['quick', 'all', ...SUITES])), ['quick'], 'quick'),
    jsonFlag('one JSON object per line: {"suite","workload","backend","threads","ms",...}'),
    threadsFlag('threads for the native backend and for PyTorch (default: all cores)'),
    backendFlag(['native', 'js', 'both']),
    repsFlag(undefined, 'timed repetitions per workload, after one warm-up (default: quick 3; all 5; the mask suite 1)'),
    flag('--js-reps <n>', 'timed repetitions on the slow reference backend (engine suite)', int(1), 1),
    flag('--skip <list>', 'engine suite: comma-separated parts to leave out: kernels, train', listOf(oneOf(() => ['kernels', 'train']))),
    flag('--models <list>', 'train suite models (default: quick resnet20; all resnet20,resnet18,vgg19,vit_tiny_patch4_32)', models),
    flag('--batches <list>', 'train suite batches (default: quick 64; all 64,128)', listOf(int(1))),
    flag('--eval-models <list>', 'eval suite models (default: quick resnet20; all resnet20,resnet18)', models),
    flag('--eval-batch <n>', 'eval suite batch', int(1), 128),
    flag('--hvp-batch <n>', 'hvp suite batch', int(1), 64),
    flag('--criteria <list>', 'mask suite criteria (default: quick magnitude,snip,fisher_diag,hutch_diag; all every criterion)', listOf(oneOf(criterionNames))),
    flag('--samples <n>', 'mask samples', int(1), MASK_DEFAULTS.samples),
    flag('--measure-samples <n>', 'time the data-driven criteria on this many samples and scale (default: quick 4; all every sample)', int(1)),
    flag('--measure-iterations <n>', 'time SynFlow on this many of its iterations and scale (default: quick 5; all every iteration)', int(1)),
    flag('--images <n>', 'loader suite dataset size (default: quick 10000; all 50000)', int(1)),
    flag('--sparsities <list>', `sparse suite sparsities, in [0, 1) (default ${SPARSE_DEFAULTS.sparsities.join(',')})`, listOf(fraction)),
    flag('--sparse-models <list>', `sparse suite models (default ${SPARSE_DEFAULTS.models.join(',')})`, models),
    flag('--sparse-parts <list>', 'sparse suite parts: layer, model (default both)', listOf(oneOf(() => SPARSE_PARTS))),
  ],
  examples: [
    'npm run bench',
    'npm run bench -- --suite train,mask --threads 2 --reps 5',
    'npm run bench -- --suite mask --criteria fisher_diag,hutch_diag --measure-samples 32 --reps 3',
    'npm run bench -- --suite sparse --sparse-parts model --threads 2',
    'npm run bench -- --suite all --json',
  ],
});

const requested = o.suite;
const full = requested.includes('all');
const quick = !full && requested.includes('quick');
const suites = new Set<Suite>(full ? SUITES : quick ? SUITES.filter((s) => !NOT_QUICK.includes(s)) : (requested as Suite[]));
// Scoring goes through the default backend selection rather than a backend handed to it.
if (o.backend === 'js' && suites.has('mask')) benchFail('the mask suite runs on the default (native) backend; leave out --backend js or the mask suite');
if (o.backend === 'both' && [...suites].some((s) => s !== 'engine')) benchFail('--backend both applies to the engine suite only (--suite engine)');

const native = nativeBackend();
const main: Backend = o.backend === 'js' ? jsBackend : native ?? benchFail('native backend not built (see the install log); run with --backend js');
if (o.threads !== undefined) {
  main.setNumThreads(o.threads);
  native?.setNumThreads(o.threads);
}
const reps = o.reps ?? (full ? 5 : 3);

const rep = new Reporter(Boolean(o.json));
const torch: Torch = openTorch();
if (torch.skipped) rep.note(`PyTorch skipped: ${torch.skipped}`);
const t0 = performance.now();

if (suites.has('engine')) {
  const backends = o.backend === 'both' ? (['native', 'js'] as const) : ([main.name] as ['native' | 'js']);
  for (const r of runEngineBench({ backends: [...backends], threads: o.threads, reps, jsReps: o.jsReps, skip: new Set(o.skip) })) {
    if ('skipped' in r) { rep.note(`skipped: ${r.skipped}`); continue; }
    const row = { suite: 'engine', ...r, ms: round(r.ms, 3), ...(r.gflops !== undefined ? { gflops: round(r.gflops) } : {}) };
    // The reference backend is pai's own slow baseline; PyTorch is compared with the native one.
    const t = torch.skipped || r.backend !== 'native' ? null
      : torch.run(r.workload === 'resnet20-train-b64'
        ? ['train', '--model', 'resnet20', '--batch', '64', '--threads', String(r.threads), '--reps', String(reps)]
        : ['kernel', '--name', r.workload, '--threads', String(r.threads), '--reps', String(reps)]);
    if (!torch.skipped && r.backend === 'native' && !t) rep.note(`torch ${r.workload} failed: ${torch.lastError}`);
    rep.row(withTorch(row, t?.['ms'] as number | undefined));
  }
}
if (suites.has('train')) {
  runTrainSuite({ models: o.models ?? (quick ? ['resnet20'] : undefined), batches: o.batches ?? (quick ? [64] : undefined), reps, backend: main }, rep, torch);
}
if (suites.has('hvp')) runHvpSuite({ model: 'resnet20', batch: o.hvpBatch, reps, backend: main }, rep, torch);
if (suites.has('eval')) runEvalSuite({ models: o.evalModels ?? (quick ? ['resnet20'] : undefined), batch: o.evalBatch, reps, backend: main }, rep, torch);
if (suites.has('mask')) {
  runMaskSuite({
    ...MASK_DEFAULTS,
    criteria: o.criteria ?? (quick ? ['magnitude', 'snip', 'fisher_diag', 'hutch_diag'] : undefined),
    samples: o.samples,
    measureSamples: o.measureSamples ?? (quick ? 4 : undefined),
    measureIterations: o.measureIterations ?? (quick ? 5 : undefined),
    // Whole scoring runs are long: one timed run unless --reps asks for more (pai and PyTorch alternate).
    reps: o.reps ?? 1,
  }, rep, torch);
}
if (suites.has('sparse')) {
  runSparseSuite({
    backend: main, reps, ...(o.sparsities ? { sparsities: o.sparsities } : {}), ...(o.sparseModels ? { models: o.sparseModels } : {}),
    ...(o.sparseParts ? { parts: o.sparseParts } : {}),
  }, rep);
}
if (suites.has('loader')) await runLoaderSuite({ images: o.images ?? (quick ? 10_000 : 50_000) }, rep);

if (!o.json) {
  const nat = rep.rows.find((r) => r.backend === 'native' && r.workload === 'conv3x3-fwd');
  const js = rep.rows.find((r) => r.backend === 'js' && r.workload === 'conv3x3-fwd');
  if (nat && js) rep.note(`native / js speed-up on the 3x3 conv forward: ${(js.ms / nat.ms).toFixed(1)}x`);
  rep.note(`total ${((performance.now() - t0) / 1000).toFixed(0)} s`);
}
