// `pai run CONFIG|DIR`: expand a study, run what the store lacks (this shard's part of it), append
// one row per run. With --emit it writes the SLURM array script or Kubernetes Indexed Job that runs
// the whole study sharded, and runs nothing.

import { basename, resolve } from 'node:path';
import { readFileSync, statSync, readdirSync, writeFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import type { Run } from '../../experiment/config.js';
import type { RunnerEvents } from '../../experiment/runner.js';
import { hasLength } from '../../tensor/checked.js';
import { UserError } from '../errors.js';
import { checkOutFile, examples, parseInteger, parseNumber } from '../options.js';
import { startTask, type Task } from '../progress.js';
import { paiImage } from '../../experiment/version.js';

interface Flags {
  store?: string;
  shard?: string;
  shardCount?: string;
  emit?: 'slurm' | 'k8s';
  output?: string;
  tasks?: string;
  cpus?: string;
  time?: string;
  partition?: string;
  memory?: string;
  image?: string;
  parallelism?: string;
  claim?: string;
  dataDir?: string;
  workers?: string;
  keepCheckpoints?: boolean;
  keepGoing?: boolean;
  list?: boolean;
  sparseExecution?: string | boolean;
}

/** Progress of a study on stderr: a line per run and epoch, a bar per phase. */
export function studyEvents(quiet: boolean, runLabel: (s: Run['settings']) => string): RunnerEvents {
  const say = (line: string): void => { if (!quiet) process.stderr.write(`${line}\n`); };
  let task: Task | null = null;
  return {
    runStart(run: Run, position: number, total: number) {
      say(`[${position}/${total}] ${runLabel(run.settings)} (run ${run.id})`);
    },
    phase(_run, phase, total, unit) {
      task?.done();
      task = startTask(`  ${phase}`, total, { unit });
    },
    tick(done, total) { task?.update(done, total); },
    phaseEnd() { task?.done(); task = null; },
    epochEnd(_run, _epoch, summary) { say(`  ${summary}`); },
    runEnd(_run, row) {
      const pct = (v: number | null): string => (v === null ? '-' : `${(100 * v).toFixed(2)}%`);
      say(`  done: test top-1 ${pct(row.bestTestTop1)} at best-validation epoch ${row.best.epoch}; density ${(100 * row.density).toFixed(2)}%${row.collapsed ? ', COLLAPSED' : ''}; scoring ${row.timing.maskSeconds.toFixed(1)} s, training ${row.timing.trainSeconds.toFixed(1)} s`);
    },
    warn(message) { process.stderr.write(`pai: warning: ${message}\n`); },
  };
}

/** Library errors that are the user's to fix become one-line user errors. */
export async function asUserErrors<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    const name = (e as Error)?.name;
    if (name === 'StoreError' || name === 'TrainingError' || name === 'CheckpointError' || name === 'LoaderError' || name === 'PruneError') throw new UserError((e as Error).message);
    throw e;
  }
}

function configFiles(path: string): Record<string, string> {
  if (!statSync(path).isDirectory()) return { [basename(path)]: readFileSync(path, 'utf8') };
  const out: Record<string, string> = {};
  for (const f of readdirSync(path).filter((n) => n.toLowerCase().endsWith('.json') && !n.startsWith('.')).sort()) out[f] = readFileSync(resolve(path, f), 'utf8');
  return out;
}

type Studies = ReturnType<typeof import('../../experiment/runner.js').loadStudies>;
type Plan = ReturnType<typeof import('../../experiment/runner.js').planRuns>;

/** --emit: the SLURM array script or the Kubernetes Indexed Job for the study, and nothing run. */
async function emitJob(config: string, f: Flags, name: string, store: string, plan: Plan): Promise<void> {
  const { emitK8s, emitSlurm } = await import('../../experiment/shard.js');
  if (f.output !== undefined) checkOutFile('--output', f.output);
  const count = f.tasks !== undefined ? parseInteger('--tasks', f.tasks, 1) : plan.length;
  const o = {
    config, store, count, name, cpus: parseInteger('--cpus', f.cpus ?? '2', 1),
    ...(f.time ? { time: f.time } : {}), ...(f.partition ? { partition: f.partition } : {}), ...(f.memory ? { memory: f.memory } : {}),
    ...(f.image ? { image: f.image } : {}), ...(f.claim ? { storeClaim: f.claim } : {}),
    ...(f.parallelism !== undefined ? { parallelism: parseInteger('--parallelism', f.parallelism, 1) } : {}),
  };
  const text = f.emit === 'slurm' ? emitSlurm(o) : emitK8s({ ...o, configFiles: configFiles(config) });
  if (f.output !== undefined) {
    writeFileSync(f.output, text);
    process.stderr.write(`wrote ${f.output}: ${count} ${f.emit === 'slurm' ? 'array tasks' : 'completions'} for ${plan.length} runs\n`);
  } else {
    process.stdout.write(text);
  }
}

/** --list: this shard's runs and whether each is done. */
async function listRuns(store: string, plan: Plan, shard: ReturnType<typeof import('../../experiment/shard.js').parseShard> | null): Promise<void> {
  const { selectShard } = await import('../../experiment/shard.js');
  const { readRow } = await import('../../experiment/store.js');
  const { runLabel } = await import('../../experiment/runner.js');
  const mine = selectShard(plan, shard);
  for (const { run } of mine) {
    const row = readRow(store, run.id);
    const state = row === null ? 'todo' : typeof row === 'string' ? 'corrupt' : 'done';
    process.stdout.write(`${run.id}  ${state.padEnd(7)}  ${runLabel(run.settings)}\n`);
  }
  process.stdout.write(`${mine.length} of ${plan.length} runs${shard ? ` in shard ${shard.index}/${shard.count}` : ''}\n`);
}

/** Runs this shard's runs that the store does not hold yet, and says how it went. */
async function runShard(studies: Studies, f: Flags, store: string, shard: ReturnType<typeof import('../../experiment/shard.js').parseShard> | null, quiet: boolean): Promise<void> {
  const { runStudies, runLabel } = await import('../../experiment/runner.js');
  if (!quiet && shard) process.stderr.write(`shard ${shard.index}/${shard.count}${'source' in shard ? ` (from the ${shard.source})` : ''}\n`);
  const { defaultDataDir } = await import('./data.js');
  const dataDir = f.dataDir ?? (process.env['PAI_DATA_DIR'] ? defaultDataDir() : undefined);
  const t0 = performance.now();
  const r = await runStudies(studies, {
    store, shard,
    ...(dataDir !== undefined ? { dataDir } : {}),
    ...(f.workers !== undefined ? { workers: parseInteger('--workers', f.workers, 0) } : {}),
    ...(f.sparseExecution !== undefined ? { sparseExecution: typeof f.sparseExecution === 'string' ? { minSparsity: parseMinSparsity(f.sparseExecution) } : f.sparseExecution } : {}),
    keepCheckpoints: f.keepCheckpoints ?? false, keepGoing: f.keepGoing ?? false,
    events: studyEvents(quiet, runLabel),
  });
  const secs = (performance.now() - t0) / 1000;
  process.stdout.write(`${r.planned.length} run(s)${shard ? ` in shard ${shard.index}/${shard.count}` : ''}: ${r.done.length} ran, ${r.skipped.length} already complete, ${r.failed.length} failed, in ${secs.toFixed(1)} s; store: ${store}\n`);
  for (const x of r.failed) process.stderr.write(`pai: run ${x.run.id} (${runLabel(x.run.settings)}) failed: ${x.error.message}\n`);
  if (r.failed.length) process.exitCode = 1;
}

/** `pai run`: load the studies, then emit a job file, list the shard, or run it. */
async function runCommand(config: string, f: Flags, quiet: boolean): Promise<void> {
  const { loadStudies, planRuns } = await import('../../experiment/runner.js');
  const { parseShard, shardFromEnv } = await import('../../experiment/shard.js');
  const studies = loadStudies(config);
  const name = hasLength(studies, 1) ? studies[0].name : basename(resolve(config));
  const store = f.store ?? `results/${name}`;
  const plan = planRuns(studies);
  if (f.emit) return emitJob(config, f, name, store, plan);
  const shardCount = f.shardCount !== undefined ? parseInteger('--shard-count', f.shardCount, 1) : undefined;
  const shard = f.shard !== undefined ? parseShard(f.shard) : shardFromEnv(process.env, shardCount);
  if (f.list) return listRuns(store, plan, shard);
  return runShard(studies, f, store, shard, quiet);
}

export function register(program: Command): void {
  const cmd = program.command('run')
    .description('run an experiment config (or every *.json in a folder): prune, train, one result row per run; skips finished runs')
    .argument('<config>', 'a config file (grid or the paper\'s format) or a folder of them')
    .option('--store <dir>', 'results store (default results/<config name>)')
    .option('--shard <i/N>', 'run only shard i of N (default: from SLURM_ARRAY_TASK_ID/COUNT or JOB_COMPLETION_INDEX)')
    .option('--shard-count <n>', 'shard count for a Kubernetes Indexed Job (else $PAI_SHARD_COUNT)')
    .addOption(new Option('--emit <kind>', 'write a job file that runs the study sharded, and run nothing').choices(['slurm', 'k8s']))
    .option('-o, --output <file>', 'with --emit: write the job file here (default: stdout)')
    .option('--tasks <n>', 'with --emit: array tasks / completions (default: one per run)')
    .option('--cpus <n>', 'with --emit: CPUs per task', '2')
    .option('--time <hh:mm:ss>', 'with --emit slurm: wall time per task', '24:00:00')
    .option('--partition <name>', 'with --emit slurm: partition')
    .option('--memory <size>', 'with --emit: memory per task (SLURM 8G, Kubernetes 8Gi)')
    .option('--image <image>', `with --emit: container image with pai (k8s default: ${paiImage()}, from the Dockerfile; slurm: runs the tasks in it with apptainer)`)
    .option('--parallelism <n>', 'with --emit k8s: pods at once (default: all)')
    .option('--claim <name>', 'with --emit k8s: PersistentVolumeClaim holding the store', 'pai-results')
    .option('--data-dir <dir>', 'where datasets are looked for (overrides the config; default $PAI_DATA_DIR or ./data)')
    .option('--workers <n>', 'data-loader threads per run (overrides the config)')
    .option('--sparse-execution [min-sparsity]', 'train and evaluate pruned layers at least this sparse (default 0.9) with sparse kernels (overrides the config\'s training.sparseExecution)')
    .option('--keep-checkpoints', 'keep runs/<id>/ (pruned weights, masks, checkpoints) after a run finishes')
    .option('--keep-going', 'go on with the next run when one fails')
    .option('--list', 'list the runs of this shard and whether each is done, and run nothing')
    .addHelpText('after', `
A run is complete when its row (rows/<id>.json in the store) exists; rerunning skips it. A run that
was killed resumes: the pruned weights and masks and the per-epoch checkpoints stay under
runs/<id>/ until its row is written. The run id is a hash of every setting that decides the result,
so the same run in two configs is one run.

Sharding: --shard i/N takes every N-th run starting at i (the grid's order is fixed by the config),
so N machines share a grid and their stores merge with pai merge. Without --shard, a SLURM job
array (SLURM_ARRAY_TASK_ID, SLURM_ARRAY_TASK_COUNT) or a Kubernetes Indexed Job
(JOB_COMPLETION_INDEX, count from --shard-count or PAI_SHARD_COUNT) picks the shard.`)
    .action(async (config: string, f: Flags, command: Command) => asUserErrors(() => runCommand(config, f, Boolean(command.optsWithGlobals<{ quiet?: boolean }>().quiet))));
  examples(cmd, [
    'pai run configs/fashion-mnist-resnet20.json --store results/fmnist',
    'pai run configs/ --shard 0/4 --store results/all',
    'pai run configs/cifar10-resnet18.json --emit slurm --cpus 8 -o cifar10-r18.sbatch',
    'pai run configs/cifar10-resnet18.json --emit k8s --image ghcr.io/me/pai:0.1.0 --parallelism 16 -o job.yaml',
    'pai run exp_configs/exp_hts.json   # a config file of the paper\'s code, as it is',
  ]);
}

function parseMinSparsity(v: string): number {
  const n = parseNumber('--sparse-execution', v);
  if (!(n >= 0 && n <= 1)) throw new UserError(`--sparse-execution takes a minimum layer sparsity in [0, 1], got ${v}`);
  return n;
}
