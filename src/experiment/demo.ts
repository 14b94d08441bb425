// The demo: the paper's comparison in miniature, on the Fashion-MNIST subset shipped with pai,
// sized so that what it prints is larger than its own noise.
//
// Five criteria (random, magnitude, SNIP, SynFlow, Hutchinson's hts) and the dense network, at 98 %
// sparsity with the BN warm-up (the paper's recipe), over three paired seeds. It prints the
// accuracies with 95 % intervals, the paired comparisons whose intervals decide them, and the
// mask-level analysis (how much the masks overlap, where each criterion disconnects the network),
// which needs no training and is deterministic, and says in words what the run shows and what it
// cannot. The demo is an ordinary study: its config (configs/demo.json holds the default one) runs
// through the same runner into a store under --out, so a second `pai demo` skips the finished runs
// and an interrupted one resumes.

import { join } from 'node:path';
import { z } from 'zod';
import { checkArgument, checkOptions, is } from '../tensor/options.js';
import { DENSE, parseConfig, type Study } from './config.js';
import { DataCache, runStudies, type RunnerEvents } from './runner.js';
import { readStore, type ResultRow } from './store.js';
import { headline, terminalTables, writeReport, type ReportResult } from './report.js';
import { Cells, type Arm, type Comparison } from './questions.js';
import { fmtDifference } from './stats.js';
import { analyzeStudies, type AnalysisEvents, type AnalysisResult } from './analysis.js';
import { analysisSection } from './analysis-report.js';
import { QUICK_PROBE_REF, QUICK_PROBES } from './analysis-defaults.js';

/** The criteria the demo compares (besides the dense network). */
export const DEMO_CRITERIA = ['random', 'magnitude', 'snip', 'synflow', 'hts'] as const;
/** The sparsity of the demo: high enough that the criteria differ, low enough that all train. */
export const DEMO_SPARSITY = 0.98;

/** Options of the demo. */
export interface DemoOptions {
  epochs?: number;
  /** A smoke-test size: a few images per class, one epoch, two seeds, a lighter scoring. */
  quick?: boolean;
}

/** The demo's config (grid form), as configs/demo.json has it for the defaults. */
export function demoConfig(o: DemoOptions = {}): Record<string, unknown> {
  const quick = o.quick ?? false;
  return {
    name: quick ? 'demo-quick' : 'demo',
    description: 'pai demo: ResNet-20 at width 1/4 (4-8-16 channels, batch norm) on the shipped Fashion-MNIST subset; the dense network and five criteria at 98% sparsity with the BN warm-up, three paired seeds.',
    grid: {
      datasets: ['fashion-mnist-subset'],
      models: [{ name: 'resnet20', width: 0.25 }],
      criteria: [DENSE, ...DEMO_CRITERIA],
      sparsities: [DEMO_SPARSITY],
      seeds: quick ? [0, 1] : [0, 1, 2],
      warmup: [true],
    },
    data: { batchSize: 64, valFraction: 0.1, trainPerClass: quick ? 30 : 300, ...(quick ? { testPerClass: 20 } : {}) },
    pruning: { maskPerClass: quick ? 1 : 3, maskBatchSize: 1, ...(quick ? { probes: 2 } : {}) },
    training: {
      epochs: o.epochs ?? (quick ? 1 : 3),
      optimizer: { name: 'sgd', lr: 0.1, momentum: 0.9, weightDecay: 5e-4 },
      schedule: { name: 'cosine' },
    },
  };
}

/** The demo's config, parsed into a study. */
export function demoStudy(o: DemoOptions = {}): Study {
  return parseConfig(demoConfig(o), 'pai demo');
}

/** The claims the demo checks: every criterion against the dense network and against random pruning, and hts against the rest. */
export function demoComparisons(rows: readonly ResultRow[]): Comparison[] {
  const cells = new Cells(rows, headline);
  const one = (c: string): Arm => ({ label: c, criteria: [c], warmup: true });
  const out: Comparison[] = [];
  const push = (c: Comparison | null): void => { if (c) out.push(c); };
  const crits = DEMO_CRITERIA.filter((c) => cells.has([c]));
  for (const s of cells.sparsities) {
    for (const c of crits) push(cells.compare(0, { label: 'dense', criteria: [DENSE], warmup: false }, one(c), s));
    for (const c of crits) if (c !== 'random') push(cells.compare(0, one(c), one('random'), s));
    for (const c of crits) if (c !== 'hts' && c !== 'random' && crits.includes('hts')) push(cells.compare(0, one('hts'), one(c), s));
  }
  return out;
}

/** The demo's verdicts in words: what the run resolved, and what its noise leaves open. */
export function demoSummary(comparisons: readonly Comparison[], seeds: number, trainImages: number, epochs: number): string[] {
  const claim = (c: Comparison): string => `${c.a.label} ${c.verdict === 'refuted' ? '<' : '>'} ${c.b.label} (${fmtDifference(c.difference)} points)`;
  const decided = comparisons.filter((c) => c.verdict !== 'not resolved');
  const open = comparisons.filter((c) => c.verdict === 'not resolved');
  const lines = [`What this run shows (95 % intervals of the per-seed differences over ${seeds} paired seeds; a claim is shown only where its interval excludes zero):`];
  lines.push(...(decided.length ? decided.map((c) => `  - ${claim(c)}`) : ['  - nothing: every difference lies within this run\'s noise']));
  if (open.length) {
    lines.push(`What it cannot say: ${open.length} of ${comparisons.length} comparisons are not resolved at this size, among them ${open.slice(0, 4).map((c) => `${c.a.label} vs ${c.b.label}`).join(', ')}${open.length > 4 ? ', …' : ''}.`);
  }
  lines.push(`${epochs} epoch(s) on ${trainImages.toLocaleString('en-US')} training images with ${seeds} seeds cannot rank criteria that lie close together, and one dataset and one small model say nothing general; the study in configs/study (see the README) answers the paper's questions on the full data.`);
  return lines;
}

/** The mask-level analysis for a terminal: mask overlap with hts and the collapse thresholds. */
export function maskLines(a: AnalysisResult): string[] {
  const lines: string[] = [];
  const p = (v: number | null | undefined, d = 2): string => (v === null || v === undefined ? '—' : v.toFixed(d));
  for (const g of a.settings) {
    for (const arm of g.arms) {
      lines.push(`Masks without training (${arm.warmup ? 'with' : 'without'} warm-up; deterministic, mean over seeds ${g.seeds.join(', ')}):`);
      for (const { sparsity, matrix } of arm.iou) {
        const i = matrix.criteria.indexOf('hts');
        if (i < 0) continue;
        const cells = matrix.criteria.map((c, j) => (j === i ? null : `${c} ${p(matrix.cells[i]?.[j]?.interval?.mean)}`)).filter((x): x is string => x !== null);
        lines.push(`  overlap (IoU) of the hts mask at ${+(100 * sparsity).toFixed(2)}% with: ${cells.join(', ')}`);
      }
      const th = arm.collapse.map((c) => {
        const iv = c.interval;
        const above = c.seeds.every((x) => x.bound === 'above');
        return `${c.criterion} ${above ? `> ${+(100 * (c.seeds[0]?.threshold ?? 0)).toFixed(3)}%` : iv ? `${+(100 * iv.mean).toFixed(2)}%` : '—'}`;
      });
      lines.push(`  largest sparsity that keeps an input-to-output path: ${th.join(', ')}`);
    }
  }
  return lines;
}

/** What `runDemo` did and wrote. */
export interface DemoResult {
  study: Study;
  rows: ResultRow[];
  report: ReportResult;
  analysis: AnalysisResult;
  comparisons: Comparison[];
  /** The accuracy table, the verdicts and the summary, for a terminal. */
  table: string;
  seconds: number;
}

/** Runs the demo into `<out>/store`, analyses its masks into `<out>/analysis` and writes the report into `out`. */
export async function runDemo(out: string, o: DemoOptions & { events?: RunnerEvents; analysisEvents?: AnalysisEvents } = {}): Promise<DemoResult> {
  checkArgument('runDemo', 'out', z.string().min(1), out);
  checkOptions('runDemo', z.strictObject({ epochs: is.positiveInt.optional(), quick: z.boolean().optional(), events: z.looseObject({}).optional(), analysisEvents: z.looseObject({}).optional() }), o);
  const t0 = performance.now();
  const study = demoStudy(o);
  const store = join(out, 'store');
  await runStudies([study], { store, ...(o.events ? { events: o.events } : {}) });
  // Only this study's rows: a store reused with other --epochs holds other runs too.
  const ids = new Set(study.runs.map((r) => r.id));
  const rows = readStore(store).rows.filter((r) => ids.has(r.id));
  const analysis = await analyzeStudies([study], {
    probes: [...QUICK_PROBES], probeRef: QUICK_PROBE_REF, cacheDir: join(out, 'analysis', 'cache'),
    ...(o.analysisEvents ? { events: o.analysisEvents } : {}),
  });
  const af = await analysisSection(analysis, out);
  const comparisons = demoComparisons(rows);
  const seeds = new Set(rows.map((r) => r.settings.seed)).size;
  const first = study.runs[0]?.settings;
  const trainImages = first ? new DataCache(undefined).forRun(first).train.length : 0;
  const summary = demoSummary(comparisons, seeds, trainImages, first?.epochs ?? 0);
  const report = await writeReport(rows, {
    out, title: `pai demo: ${study.runs.length} runs on the Fashion-MNIST subset`,
    notes: summary,
    sections: [af.markdown],
  });
  const verdicts = comparisons.map((c) => `  ${c.a.label} − ${c.b.label}: ${fmtDifference(c.difference)} points, ${c.verdict}`);
  const table = [terminalTables(rows), 'Paired differences (95 % intervals over seeds):', ...verdicts, '', ...maskLines(analysis), '', ...summary].join('\n');
  return { study, rows, report, analysis, comparisons, table, seconds: (performance.now() - t0) / 1000 };
}
