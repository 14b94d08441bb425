// `npm run bench [-- --suite quick|all|engine,train,hvp,mask,eval,loader] [--json] [--threads N] ...`
// The one entry point for every workload of the performance issue. Each suite lives in its own
// file (runnable on its own too); this file picks the suites, the quick or full sizes, and opens
// the PyTorch side (PAI_TORCH_PYTHON) once for all of them.
import { Command, InvalidArgumentError } from 'commander';
import { jsBackend, nativeBackend, type Backend } from '../src/kernels/index.js';
import { runEngineBench } from './engine.js';
import { runTrainSuite } from './train-step.js';
import { runHvpSuite } from './hvp.js';
import { runEvalSuite } from './eval.js';
import { runMaskSuite, MASK_DEFAULTS } from './prune.js';
import { runLoaderSuite } from './loader.js';
import { runSparseSuite, SPARSE_DEFAULTS } from './sparse.js';
import { openTorch, Reporter, round, withTorch, type Torch } from './common.js';

const SUITES = ['engine', 'train', 'hvp', 'mask', 'eval', 'loader', 'sparse'] as const;
// Suites too long for the quick default; `all` or naming them runs them.
const NOT_QUICK: readonly string[] = ['sparse'];
type Suite = (typeof SUITES)[number];

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
}
const list = (v: string): string[] => v.split(',').filter(Boolean);
const intList = (v: string): number[] => list(v).map(positiveInt);

const program = new Command('pai-bench')
  .description('Time pai on the workloads of the performance issue, and PyTorch on the same ones when PAI_TORCH_PYTHON names a Python with torch.')
  .option('--suite <list>', `quick (default: a subset that takes a few minutes), all, or comma-separated: ${SUITES.join(', ')}`, 'quick')
  .option('--json', 'one JSON object per line: {"suite","workload","backend","threads","ms",...}')
  .option('--threads <n>', 'threads for the native backend and for PyTorch (default: all cores)', positiveInt)
  .option('--backend <which>', 'native or js; the engine suite also takes both', 'native')
  .option('--reps <n>', 'timed repetitions per workload, after one warm-up', positiveInt)
  .option('--js-reps <n>', 'timed repetitions on the slow reference backend (engine suite)', positiveInt, 1)
  .option('--skip <what>', 'engine suite: comma-separated kernels, train', '')
  .option('--models <list>', 'train suite models (default: quick resnet20; all resnet20,resnet18,vgg19,vit_tiny_patch4_32)', list)
  .option('--batches <list>', 'train suite batches (default: quick 64; all 64,128)', intList)
  .option('--eval-models <list>', 'eval suite models (default: quick resnet20; all resnet20,resnet18)', list)
  .option('--eval-batch <n>', 'eval suite batch', positiveInt, 128)
  .option('--hvp-batch <n>', 'hvp suite batch', positiveInt, 64)
  .option('--criteria <list>', 'mask suite criteria (default: quick magnitude,snip,fisher_diag,hutch_diag; all every criterion)')
  .option('--samples <n>', 'mask samples', positiveInt, MASK_DEFAULTS.samples)
  .option('--measure-samples <n>', 'time the data-driven criteria on this many samples and scale (default: quick 4; all every sample)', positiveInt)
  .option('--measure-iterations <n>', 'time SynFlow on this many of its iterations and scale (default: quick 5; all every iteration)', positiveInt)
  .option('--images <n>', 'loader suite dataset size (default: quick 10000; all 50000)', positiveInt)
  .option('--sparsities <list>', `sparse suite sparsities (default ${SPARSE_DEFAULTS.sparsities.join(',')})`, (v: string) => list(v).map(Number))
  .option('--sparse-models <list>', `sparse suite models (default ${SPARSE_DEFAULTS.models.join(',')})`, list)
  .option('--sparse-parts <list>', 'sparse suite parts: layer, model (default both)', list)
  .showHelpAfterError();
program.parse();
const o = program.opts<{
  suite: string; json?: boolean; threads?: number; backend: string; reps?: number; jsReps: number; skip: string;
  models?: string[]; batches?: number[]; evalModels?: string[]; evalBatch: number; hvpBatch: number;
  criteria?: string; samples: number; measureSamples?: number; measureIterations?: number; images?: number;
  sparsities?: number[]; sparseModels?: string[]; sparseParts?: string[];
}>();

function fail(msg: string): never {
  process.stderr.write(`pai-bench: ${msg}\n`);
  process.exit(2);
}

const requested = list(o.suite);
const full = requested.includes('all');
const quick = !full && (requested.length === 0 || requested.includes('quick'));
for (const s of requested) if (!['quick', 'all', ...SUITES].includes(s)) fail(`unknown suite "${s}" (quick, all, ${SUITES.join(', ')})`);
const suites = new Set<Suite>(full ? SUITES : quick ? SUITES.filter((s) => !NOT_QUICK.includes(s)) : (requested as Suite[]));
if (!['native', 'js', 'both'].includes(o.backend)) fail(`--backend must be native, js or both, got "${o.backend}"`);
// Scoring goes through the default backend selection rather than a backend handed to it.
if (o.backend === 'js' && suites.has('mask')) fail('the mask suite runs on the default (native) backend; leave out --backend js or the mask suite');
if (o.backend === 'both' && [...suites].some((s) => s !== 'engine')) fail('--backend both applies to the engine suite only (--suite engine)');

const native = nativeBackend();
const main: Backend = o.backend === 'js' ? jsBackend : native ?? fail('native backend not built (see the install log); run with --backend js');
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
  for (const r of runEngineBench({ backends: [...backends], threads: o.threads, reps, jsReps: o.jsReps, skip: new Set(list(o.skip)) })) {
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
    criteria: o.criteria ?? (quick ? 'magnitude,snip,fisher_diag,hutch_diag' : undefined),
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
    ...(o.sparseParts ? { parts: o.sparseParts as ('layer' | 'model')[] } : {}),
  }, rep);
}
if (suites.has('loader')) await runLoaderSuite({ images: o.images ?? (quick ? 10_000 : 50_000) }, rep);

if (!o.json) {
  const nat = rep.rows.find((r) => r.backend === 'native' && r.workload === 'conv3x3-fwd');
  const js = rep.rows.find((r) => r.backend === 'js' && r.workload === 'conv3x3-fwd');
  if (nat && js) rep.note(`native / js speed-up on the 3x3 conv forward: ${(js.ms / nat.ms).toFixed(1)}x`);
  rep.note(`total ${((performance.now() - t0) / 1000).toFixed(0)} s`);
}
