// `pai analyze CONFIG|DIR --out DIR`: the mask-level analysis of a study without training: mask
// overlap and score correlation between criteria, per-layer densities, collapse thresholds and
// Hutchinson probe convergence; analysis.json, analysis.md and plots. Resumable through
// <out>/cache/.

import { join } from 'node:path';
import type { Command } from 'commander';
import { UserError } from '../errors.js';
import { checkCriterion, examples, parseInteger, parseNumber, parseSparsity } from '../options.js';
import { startTask, type Task } from '../progress.js';
import { asUserErrors } from './run.js';
import { DEFAULT_PROBE_REF, DEFAULT_PROBES, DEFAULT_STABLE_IOU, QUICK_PROBE_REF, QUICK_PROBES } from '../../experiment/analysis-defaults.js';

interface Flags {
  out: string;
  seeds?: string;
  criteria?: string;
  sparsities?: string;
  probes?: string;
  probeRef?: string;
  stableIou?: string;
  quick?: boolean;
  png: boolean;
  dataDir?: string;
  workers?: string;
}

/** A comma-separated list, each item parsed; an empty item or list is an error naming the flag. */
function parseList<T>(flag: string, v: string, parse: (item: string) => T): T[] {
  const items = v.split(',').map((s) => s.trim());
  if (items.some((s) => s === '')) throw new UserError(`${flag} takes a comma-separated list such as 1,2,5, got "${v}"`);
  return items.map(parse);
}

function fmtSeconds(s: number): string {
  return s < 60 ? `${s.toFixed(1)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

async function analyzeCommand(config: string, f: Flags, quiet: boolean): Promise<void> {
  const { loadStudies } = await import('../../experiment/runner.js');
  const { analyzeStudies } = await import('../../experiment/analysis.js');
  const { writeAnalysis } = await import('../../experiment/analysis-report.js');
  const seeds = f.seeds !== undefined ? parseList('--seeds', f.seeds, (s) => parseInteger('--seeds', s, 0)) : undefined;
  const sparsities = f.sparsities !== undefined ? parseList('--sparsities', f.sparsities, (s) => parseSparsity(s, '--sparsities')) : undefined;
  const criteria = f.criteria !== undefined ? await Promise.all(parseList('--criteria', f.criteria, (c) => c)
    .map((c) => (c === 'none' || c === 'pat' ? Promise.reject(new UserError(`--criteria: "${c}" has no mask at initialisation (${c === 'pat' ? 'pruning after training needs a trained network' : 'the dense baseline'}); leave it out`)) : checkCriterion(c)))) : undefined;
  const probes = f.probes !== undefined ? parseList('--probes', f.probes, (s) => parseInteger('--probes', s, 1)) : [...(f.quick ? QUICK_PROBES : DEFAULT_PROBES)];
  const probeRef = f.probeRef !== undefined ? parseInteger('--probe-ref', f.probeRef, 1) : f.quick ? QUICK_PROBE_REF : DEFAULT_PROBE_REF;
  let stableIou: number | undefined;
  if (f.stableIou !== undefined) {
    stableIou = parseNumber('--stable-iou', f.stableIou);
    if (!(stableIou >= 0 && stableIou <= 1)) throw new UserError(`--stable-iou must be in [0, 1], got ${f.stableIou}`);
  }
  const studies = loadStudies(config);
  const { defaultDataDir } = await import('./data.js');
  const dataDir = f.dataDir ?? (process.env['PAI_DATA_DIR'] ? defaultDataDir() : undefined);
  const t0 = performance.now();
  let task: Task | null = null;
  let cached = 0;
  const result = await analyzeStudies(studies, {
    cacheDir: join(f.out, 'cache'), probes, probeRef,
    ...(seeds ? { seeds } : {}), ...(sparsities ? { sparsities } : {}), ...(criteria ? { criteria } : {}),
    ...(stableIou !== undefined ? { stableIou } : {}), ...(dataDir !== undefined ? { dataDir } : {}),
    ...(f.workers !== undefined ? { workers: parseInteger('--workers', f.workers, 0) } : {}),
    events: {
      start(total) { task = startTask('analyze', total, { unit: 'work' }); },
      progress(done, total) { task?.update(done, total); },
      cacheHit() { cached++; },
      warn(message) { process.stderr.write(`pai: warning: ${message}\n`); },
      done(s) {
        task?.done();
        if (quiet) return;
        const phases = Object.entries(s.seconds).map(([k, v]) => `${k} ${fmtSeconds(v)}`).join(', ');
        process.stderr.write(`analysis: ${s.computed} unit(s) computed, ${s.cached} from the cache; ${phases}\n`);
      },
    },
  });
  const t1 = performance.now();
  const out = await writeAnalysis(result, f.out, { png: f.png });
  if (!quiet) process.stderr.write(`outputs: ${fmtSeconds((performance.now() - t1) / 1000)}; total ${fmtSeconds((performance.now() - t0) / 1000)}${cached ? ` (${cached} unit(s) from ${join(f.out, 'cache')})` : ''}\n`);
  process.stdout.write(`wrote ${out.files.join(', ')}\n`);
}

export function register(program: Command): void {
  const cmd = program.command('analyze')
    .description('mask-level analysis of a study without training: mask overlap and score correlation between criteria, per-layer densities, collapse thresholds, Hutchinson probe convergence')
    .argument('<config>', 'a config file (grid or the paper\'s format) or a folder of them, as pai run takes')
    .requiredOption('--out <dir>', 'output folder: analysis.json, analysis.md, plots, and cache/ (created if needed)')
    .option('--seeds <list>', 'seeds to analyse, e.g. 0,1 (default: the runs\')')
    .option('--criteria <list>', 'criteria to compare in every warm-up arm (default: each arm\'s runs\')')
    .option('--sparsities <list>', 'sparsities, e.g. 0.9,0.99 (default: the runs\')')
    .option('--probes <list>', `Hutchinson probe counts K of the convergence check (default ${DEFAULT_PROBES.join(',')})`)
    .option('--probe-ref <k>', `reference probe count K_ref (default ${DEFAULT_PROBE_REF})`)
    .option('--stable-iou <x>', `IoU with K_ref whose interval lower bound says the mask stopped changing (default ${DEFAULT_STABLE_IOU})`)
    .option('--quick', `fewer probes for a demonstration: K = ${QUICK_PROBES.join(',')} against K_ref = ${QUICK_PROBE_REF} (unless --probes, --probe-ref)`)
    .option('--no-png', 'SVG plots only')
    .option('--data-dir <dir>', 'where datasets are looked for (overrides the config; default $PAI_DATA_DIR or ./data)')
    .option('--workers <n>', 'data-loader threads of the BN warm-up (overrides the config)')
    .addHelpText('after', `
Scores, masks and the BN warm-up are the ones pai run computes for the runs (same model
initialisation, mask images and warm-up), so nothing is trained. "none" and "pat" have no mask at
initialisation and are left out. "Connected" means some input-to-output path of non-zero weights
survives the mask: necessary for learning, not sufficient. A killed analysis continues where it
stopped: every scoring result is kept in <out>/cache/.`)
    .action(async (config: string, f: Flags, command: Command) => asUserErrors(() => analyzeCommand(config, f, Boolean(command.optsWithGlobals<{ quiet?: boolean }>().quiet))));
  examples(cmd, [
    'pai analyze configs/study --out reports/study-analysis',
    'pai analyze configs/study --out /tmp/an --seeds 0 --no-png',
    'pai analyze configs/demo.json --out /tmp/an-demo --quick',
    'pai analyze configs/study --out /tmp/an --criteria snip,hutch_pruning,ggn_pruning --sparsities 0.9,0.99 --probes 1,10,50 --probe-ref 100',
  ]);
}
