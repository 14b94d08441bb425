// The demo: the paper's comparison in miniature, on the Fashion-MNIST subset shipped with pai.
// Nine criteria (data-free, first-order, GraSP, SynFlow, Fisher and Hutchinson), two high
// sparsities, with and without the BN warm-up, a few epochs of training, then the table, the report
// and the plots. Sized to finish in minutes on a 2-core machine with the native backend.
//
// The demo is an ordinary study: its config (configs/demo.json holds the default one) runs through
// the same runner into a store under --out, so a second `pai demo` skips the finished runs and an
// interrupted one resumes.

import { join } from 'node:path';
import { z } from 'zod';
import { checkArgument, checkOptions, is } from '../tensor/options.js';
import { parseConfig, type Study } from './config.js';
import { runStudies, type RunnerEvents } from './runner.js';
import { readStore, type ResultRow } from './store.js';
import { terminalTables, writeReport, type ReportResult } from './report.js';

/** The nine criteria the demo compares. */
export const DEMO_CRITERIA = ['random', 'magnitude', 'snip', 'grasp', 'synflow', 'fisher_diag', 'fts', 'hutch_diag', 'hts'] as const;

/** Options of the demo. */
export interface DemoOptions {
  epochs?: number;
  /** A smoke-test size: a few images per class, one epoch, a lighter scoring. */
  quick?: boolean;
}

/** The demo's config (grid form), as configs/demo.json has it for the defaults. */
export function demoConfig(o: DemoOptions = {}): Record<string, unknown> {
  const quick = o.quick ?? false;
  return {
    name: quick ? 'demo-quick' : 'demo',
    description: 'pai demo: ResNet-20 at width 1/4 (4-8-16 channels, batch norm) on the shipped Fashion-MNIST subset, nine criteria at 90% and 98% sparsity, with and without the BN warm-up.',
    grid: {
      datasets: ['fashion-mnist-subset'],
      models: [{ name: 'resnet20', width: 0.25 }],
      criteria: [...DEMO_CRITERIA],
      sparsities: [0.9, 0.98],
      seeds: [0],
      warmup: [false, true],
    },
    data: { batchSize: 64, valFraction: 0.1, trainPerClass: quick ? 30 : 150, testPerClass: quick ? 20 : 50 },
    pruning: { maskPerClass: quick ? 1 : 3, maskBatchSize: 1, ...(quick ? { probes: 2 } : {}) },
    training: {
      epochs: o.epochs ?? (quick ? 1 : 3),
      optimizer: { name: 'sgd', lr: 0.05, momentum: 0.9, weightDecay: 5e-4 },
      schedule: { name: 'cosine' },
    },
  };
}

/** The demo's config, parsed into a study. */
export function demoStudy(o: DemoOptions = {}): Study {
  return parseConfig(demoConfig(o), 'pai demo');
}

/** What `runDemo` did and wrote. */
export interface DemoResult {
  study: Study;
  rows: ResultRow[];
  report: ReportResult;
  table: string;
  seconds: number;
}

/** Runs the demo into `<out>/store` and writes the report into `out`. */
export async function runDemo(out: string, o: DemoOptions & { events?: RunnerEvents } = {}): Promise<DemoResult> {
  checkArgument('runDemo', 'out', z.string().min(1), out);
  checkOptions('runDemo', z.strictObject({ epochs: is.positiveInt.optional(), quick: z.boolean().optional(), events: z.looseObject({}).optional() }), o);
  const t0 = performance.now();
  const study = demoStudy(o);
  const store = join(out, 'store');
  await runStudies([study], { store, ...(o.events ? { events: o.events } : {}) });
  // Only this study's rows: a store reused with other --epochs holds other runs too.
  const ids = new Set(study.runs.map((r) => r.id));
  const rows = readStore(store).rows.filter((r) => ids.has(r.id));
  const report = await writeReport(rows, { out, title: `pai demo: ${study.runs.length} runs on the Fashion-MNIST subset` });
  return { study, rows, report, table: terminalTables(rows), seconds: (performance.now() - t0) / 1000 };
}
