// The mask-level analysis written out: analysis.json (the whole result, tagged pai-analysis/1),
// analysis.md (Markdown tables) and Vega-Lite plots (IoU heat maps, per-layer densities, probe
// convergence), each file written whole or not at all; and analysis.json read back, validated.

import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { checkArgument, checkOptions, issuesMessage } from '../tensor/options.js';
import { last } from '../tensor/checked.js';
import { ANALYSIS_FORMAT, AnalysisError, type AnalysisResult, type ArmAnalysis, type CollapseSeed, type PairMatrix, type ProbeConvergence, type SettingAnalysis, type SeedSummary } from './analysis.js';
import { layerDensityPlot, mdTable, renderPlot, slug, type LayerDensityPoint, type PlotFiles } from './report.js';
import { fmtInterval } from './stats.js';
import { writeAtomic } from './store.js';

const pct = (s: number, digits = 3): string => `${+(100 * s).toFixed(digits)}%`;
const armName = (a: ArmAnalysis): string => (a.warmup ? 'with BN warm-up' : 'without BN warm-up');
const armSlug = (a: ArmAnalysis): string => (a.warmup ? 'warmup' : 'nowarmup');

function cell(s: SeedSummary | undefined, o: { scale?: number; digits?: number } = {}): string {
  if (!s || !s.interval) return '—';
  return fmtInterval(s.interval, { scale: o.scale ?? 1, digits: o.digits ?? 3 });
}

function matrixTable(m: PairMatrix): string {
  const body = m.criteria.map((a, i) => [a, ...m.criteria.map((_, j) => cell(m.cells[i]?.[j]))]);
  return mdTable(['', ...m.criteria], body, ['l', ...m.criteria.map(() => 'r' as const)]);
}

function seedThreshold(x: CollapseSeed, hi: number, lo: number): string {
  switch (x.bound) {
    case 'exact': return pct(x.threshold ?? 0);
    case 'above': return `> ${pct(hi)}`;
    case 'below': return `< ${pct(lo)}`;
    default: return 'not checked';
  }
}

function collapseTable(r: AnalysisResult, a: ArmAnalysis, seeds: readonly number[]): string {
  const { lo, hi } = r.options.collapse;
  const body = a.collapse.map((c) => {
    const exact = c.seeds.filter((x) => x.bound === 'exact').length;
    const censored = c.seeds.length - exact;
    let mean = c.interval ? `${fmtInterval(c.interval, { scale: 100, digits: 3 })}%` : '—';
    if (censored > 0) {
      const all = c.seeds.every((x) => x.bound === c.seeds[0]?.bound);
      mean = all && c.seeds[0] ? seedThreshold(c.seeds[0], hi, lo) : `${mean} (${exact} of ${c.seeds.length} seeds; see each)`;
    }
    return [`${c.criterion}${c.iterative ? ' (iterative)' : ''}`, mean, c.seeds.map((x) => seedThreshold(x, hi, lo)).join(', ')];
  });
  return mdTable(['criterion', 'threshold sparsity (mean ± CI)', `per seed (${seeds.join(', ')})`], body, ['l', 'r', 'l']);
}

function probeTable(p: ProbeConvergence, sparsities: readonly number[]): string {
  const header = ['K', ...sparsities.map((s) => `IoU vs K_ref, ${pct(s)}`)];
  if (p.exact) header.push(...sparsities.map((s) => `IoU vs ${p.exact}, ${pct(s)}`));
  if (p.diagonal) header.push('‖D_K − D_ref‖ / ‖D_ref‖');
  const body = p.rows.map((row) => {
    const k = `${row.probes}${row.probes === p.reference ? ' (K_ref)' : ''}${row.probes === p.runProbes ? ' (runs)' : ''}`;
    const cells = [k, ...row.iou.map((c) => cell(c))];
    if (p.exact) cells.push(...(row.iouExact ?? []).map((c) => cell(c)));
    if (p.diagonal) cells.push(cell(row.diagonalError ?? undefined));
    return cells;
  });
  return mdTable(header, body, ['l', ...header.slice(1).map(() => 'r' as const)]);
}

function stableLine(p: ProbeConvergence, sparsities: readonly number[], threshold: number, oneSeed: boolean): string {
  const parts = sparsities.map((s, i) => {
    const k = p.stable[i];
    return `${k === null || k === undefined ? `not below K_ref = ${p.reference}` : `K = ${k}`} at ${pct(s)}`;
  });
  return `The mask stops changing (IoU with K_ref ≥ ${threshold}${oneSeed ? ', one seed: its value' : ' at the interval\'s lower bound'}): ${parts.join('; ')}.`;
}

function layerTable(a: ArmAnalysis, g: SettingAnalysis, sparsity: number): string {
  const profiles = a.criteria.map((c) => a.layers.find((l) => l.criterion === c && l.sparsity === sparsity));
  const body = g.prunable.map((l, i) => [l.name.replace(/\.weight$/, ''), String(l.total), ...profiles.map((p) => {
    const iv = p?.layers[i]?.density.interval;
    return iv ? pct(iv.mean, 2) : '—';
  })]);
  return mdTable(['layer', 'weights', ...a.criteria], body, ['l', 'r', ...a.criteria.map(() => 'r' as const)]);
}

/**
 * The analysis as Markdown: per setting and arm, the IoU matrix at every sparsity and the Spearman
 * matrix (mean ± CI half-width over seeds), the collapse thresholds, the probe-convergence tables
 * and the per-layer densities at the highest sparsity; `plots` maps a plot's key to its file name
 * (see writeAnalysis) so the text can show it.
 */
export function analysisMarkdown(result: AnalysisResult, plots: ReadonlyMap<string, string> = new Map()): string {
  const md: string[] = ['# Mask-level analysis', ''];
  md.push(`Studies: ${result.studies.map((s) => `${s.name}${s.source ? ` (${s.source})` : ''}`).join(', ')}. pai ${result.pai.version}, ${result.pai.backend} backend. Cells: mean ± half-width of the ${pct(result.options.level, 1)} interval over seeds (one seed: the value alone).`, '');
  for (const n of result.notes) md.push(`- ${n}`);
  md.push('');
  const img = (key: string, alt: string): void => {
    const f = plots.get(key);
    if (f) md.push(`![${alt}](${f})`, '');
  };
  for (const g of result.settings) {
    md.push(`## ${g.label}`, '');
    const total = g.prunable.reduce((a, l) => a + l.total, 0);
    md.push(`Seeds: ${g.seeds.join(', ')}; sparsities: ${g.sparsities.map((s) => pct(s)).join(', ')}; ${total} prunable weights in ${g.prunable.length} tensors.${g.excluded.length ? ` Not analysed: ${g.excluded.map((e) => e.criterion).join(', ')}.` : ''}`, '');
    for (const a of g.arms) {
      md.push(`### ${a.warmup ? 'With' : 'Without'} BN warm-up`, '');
      for (const { sparsity, matrix } of a.iou) {
        md.push(`#### Mask overlap (IoU) at sparsity ${pct(sparsity)}`, '', matrixTable(matrix), '');
        img(`iou|${g.key}|${a.warmup}|${sparsity}`, `IoU at ${pct(sparsity)}, ${armName(a)}`);
      }
      md.push('#### Rank correlation of the scores (Spearman)', '');
      if (a.iterative.length) md.push(`${a.iterative.join(', ')}: one-shot scores (the masks above are from iterative pruning).`, '');
      md.push(matrixTable(a.spearman), '');
      md.push('#### Collapse thresholds', '', 'The largest sparsity whose mask still connects input to output (a path of non-zero weights: necessary, not sufficient, for learning).', '', collapseTable(result, a, g.seeds), '');
      for (const p of a.probes) {
        md.push(`#### Probe convergence: ${p.criterion}`, '');
        md.push(`Masks of K Hutchinson probes against K_ref = ${p.reference}; the runs use K = ${p.runProbes}.${p.exact ? ` ${p.exact} is the same saliency with the exact Gauss-Newton diagonal (no probes).` : ''}${p.diagonal ? ` D is the ${p.diagonal} estimate at the same K.` : ''}`, '');
        md.push(probeTable(p, g.sparsities), '', stableLine(p, g.sparsities, result.options.stableIou, g.seeds.length < 2), '');
        img(`probes|${g.key}|${a.warmup}|${p.criterion}`, `Probe convergence of ${p.criterion}, ${armName(a)}`);
      }
      if (g.sparsities.length) {
        const top = last(g.sparsities, 'sparsities');
        md.push(`#### Per-layer density at sparsity ${pct(top)}`, '', 'Kept fraction of every prunable tensor, mean over seeds.', '', layerTable(a, g, top), '');
        img(`layers|${g.key}|${a.warmup}|${top}`, `Per-layer density at ${pct(top)}, ${armName(a)}`);
      }
    }
  }
  return `${md.join('\n').replace(/\n{3,}/g, '\n\n')}`;
}

// ---- plots ----

async function iouHeatmap(g: SettingAnalysis, a: ArmAnalysis, sparsity: number, m: PairMatrix, base: string, png: boolean): Promise<PlotFiles> {
  const values = m.criteria.flatMap((x, i) => m.criteria.map((y, j) => {
    const v = m.cells[i]?.[j]?.interval?.mean ?? null;
    return { a: x, b: y, iou: v, text: v === null ? '—' : v.toFixed(2) };
  }));
  const n = m.criteria.length;
  return renderPlot({
    title: `Mask IoU at sparsity ${pct(sparsity)}, ${armName(a)}: ${g.label}`,
    width: Math.max(200, 46 * n), height: Math.max(200, 30 * n),
    data: { values },
    encoding: {
      x: { field: 'b', type: 'ordinal', sort: m.criteria, title: null, axis: { labelAngle: -40 } },
      y: { field: 'a', type: 'ordinal', sort: m.criteria, title: null },
    },
    layer: [
      { mark: 'rect', encoding: { color: { field: 'iou', type: 'quantitative', scale: { domain: [0, 1], scheme: 'viridis' }, title: 'IoU' } } },
      { mark: { type: 'text', fontSize: 10 }, encoding: { text: { field: 'text' }, color: { condition: { test: 'datum.iou > 0.6', value: 'black' }, value: 'white' } } },
    ],
  }, base, png);
}

async function probePlot(g: SettingAnalysis, a: ArmAnalysis, p: ProbeConvergence, base: string, png: boolean): Promise<PlotFiles> {
  const values: Record<string, unknown>[] = [];
  for (const row of p.rows) {
    const add = (against: string, cells: readonly SeedSummary[] | null): void => {
      (cells ?? []).forEach((c, i) => {
        const iv = c.interval;
        const sp = g.sparsities[i];
        if (!iv || sp === undefined) return;
        values.push({ K: row.probes, against, sparsity: pct(sp), iou: iv.mean, lo: iv.half === null ? iv.mean : iv.lo, hi: iv.half === null ? iv.mean : iv.hi });
      });
    };
    add(`vs K_ref = ${p.reference}`, row.iou);
    if (p.exact) add(`vs ${p.exact} (exact)`, row.iouExact);
  }
  const x = { field: 'K', type: 'quantitative', scale: { type: 'log' }, axis: { values: p.rows.map((r) => r.probes), format: 'd' }, title: 'Hutchinson probes K (log scale)' };
  const y = { field: 'iou', type: 'quantitative', scale: { domain: [0, 1] }, title: 'mask IoU' };
  const color = { field: 'sparsity', type: 'nominal', sort: g.sparsities.map((s) => pct(s)), title: 'sparsity' };
  return renderPlot({
    title: `Probe convergence of ${p.criterion}, ${armName(a)}: ${g.label}`,
    width: 480, height: 300,
    data: { values },
    // Lines and points are separate layers so that the legend shows solid and dashed strokes.
    layer: [
      { mark: { type: 'line', strokeWidth: 2 }, encoding: { x, y, color, strokeDash: { field: 'against', type: 'nominal', title: 'compared with', legend: { labelLimit: 320, symbolType: 'stroke' } } } },
      { mark: { type: 'circle', size: 36, opacity: 1 }, encoding: { x, y, color } },
      { mark: { type: 'errorbar', ticks: true }, encoding: { x, y: { field: 'lo', type: 'quantitative', title: 'mask IoU' }, y2: { field: 'hi' }, color } },
    ],
  }, base, png);
}

/** What `writeAnalysis` wrote. */
export interface AnalysisFiles {
  markdown: string;
  /** analysis.json, analysis.md and the plot files. */
  files: string[];
}

/**
 * Writes analysis.json (the whole result), analysis.md (analysisMarkdown) and the plots into
 * `outDir`: an IoU heat map per setting, arm and sparsity, a per-layer density plot per setting,
 * arm and sparsity, and a probe-convergence plot per probe criterion and arm (SVG, and PNG unless
 * `png: false`). Every file is written whole or not at all.
 */
export async function writeAnalysis(result: AnalysisResult, outDir: string, o: { png?: boolean } = {}): Promise<AnalysisFiles> {
  checkArgument('writeAnalysis', 'result', z.looseObject({ format: z.literal(ANALYSIS_FORMAT) }), result);
  checkArgument('writeAnalysis', 'outDir', z.string().min(1), outDir);
  checkOptions('writeAnalysis', z.strictObject({ png: z.boolean().optional() }), o);
  const png = o.png ?? true;
  mkdirSync(outDir, { recursive: true });
  const files: string[] = [];
  const plots = new Map<string, string>();
  const keep = (key: string, f: PlotFiles): void => {
    files.push(f.svg, ...(f.png ? [f.png] : []));
    plots.set(key, (f.png ?? f.svg).split('/').pop() ?? f.svg);
  };
  for (const g of result.settings) {
    const gs = slug(`${g.dataset}-${g.model}${g.width !== 1 ? `-w${g.width}` : ''}-${g.key}`);
    for (const a of g.arms) {
      for (const { sparsity, matrix } of a.iou) {
        keep(`iou|${g.key}|${a.warmup}|${sparsity}`, await iouHeatmap(g, a, sparsity, matrix, join(outDir, `iou-${gs}-${armSlug(a)}-s${sparsity}`), png));
      }
      for (const sparsity of g.sparsities) {
        const values: LayerDensityPoint[] = [];
        for (const p of a.layers.filter((l) => l.sparsity === sparsity)) {
          for (const l of p.layers) if (l.density.interval) values.push({ criterion: p.criterion, layer: l.name.replace(/\.weight$/, ''), density: l.density.interval.mean });
        }
        keep(`layers|${g.key}|${a.warmup}|${sparsity}`, await layerDensityPlot(values, {
          title: `Per-layer density at sparsity ${pct(sparsity)}, ${armName(a)}: ${g.label}`,
          layers: g.prunable.map((l) => l.name.replace(/\.weight$/, '')), criteria: a.criteria,
        }, join(outDir, `layers-${gs}-${armSlug(a)}-s${sparsity}`), png));
      }
      for (const p of a.probes) {
        keep(`probes|${g.key}|${a.warmup}|${p.criterion}`, await probePlot(g, a, p, join(outDir, `probes-${gs}-${armSlug(a)}-${slug(p.criterion)}`), png));
      }
    }
  }
  const markdown = analysisMarkdown(result, plots);
  writeAtomic(join(outDir, 'analysis.json'), `${JSON.stringify(result, null, 1)}\n`);
  writeAtomic(join(outDir, 'analysis.md'), markdown);
  files.unshift(join(outDir, 'analysis.json'), join(outDir, 'analysis.md'));
  return { markdown, files };
}

// ---- reading analysis.json back ----

const num = z.number();
const intervalSchema = z.object({ mean: num, std: num.nullable(), n: z.number().int().positive(), half: num.nullable(), lo: num, hi: num, level: num });
const summarySchema = z.object({ values: z.array(num.nullable()), interval: intervalSchema.nullable() });
const matrixSchema = z.object({ criteria: z.array(z.string()), cells: z.array(z.array(summarySchema)) });
const collapseSeedSchema = z.object({ seed: z.number().int(), threshold: num.nullable(), next: num.nullable(), bound: z.enum(['exact', 'above', 'below', 'unchecked']), checks: z.number().int() });
const armSchema = z.object({
  warmup: z.boolean(),
  criteria: z.array(z.string()),
  iterative: z.array(z.string()),
  iou: z.array(z.object({ sparsity: num, matrix: matrixSchema })),
  spearman: matrixSchema,
  layers: z.array(z.object({ criterion: z.string(), sparsity: num, layers: z.array(z.object({ name: z.string(), total: z.number().int(), density: summarySchema })) })),
  collapse: z.array(z.object({ criterion: z.string(), iterative: z.boolean(), seeds: z.array(collapseSeedSchema), interval: intervalSchema.nullable() })),
  probes: z.array(z.object({
    criterion: z.string(), exact: z.string().nullable(), diagonal: z.string().nullable(), reference: z.number().int(), runProbes: z.number().int(),
    rows: z.array(z.object({ probes: z.number().int(), iou: z.array(summarySchema), iouExact: z.array(summarySchema).nullable(), diagonalError: summarySchema.nullable() })),
    stable: z.array(z.number().int().nullable()),
  })),
});
const resultSchema = z.object({
  format: z.literal(ANALYSIS_FORMAT),
  pai: z.object({ version: z.string(), backend: z.string() }),
  studies: z.array(z.object({ name: z.string(), source: z.string().nullable(), hash: z.string() })),
  options: z.object({ probes: z.array(z.number().int()), probeRef: z.number().int(), stableIou: num, level: num, collapse: z.object({ lo: num, hi: num, resolution: num }) }),
  notes: z.array(z.string()),
  settings: z.array(z.object({
    key: z.string(), label: z.string(), dataset: z.string(), model: z.string(), width: num,
    seeds: z.array(z.number().int()), sparsities: z.array(num),
    prunable: z.array(z.object({ name: z.string(), total: z.number().int() })),
    excluded: z.array(z.object({ criterion: z.string(), reason: z.string() })),
    arms: z.array(armSchema),
  })),
});

/** Reads an analysis.json back, validated; a bad file is an AnalysisError naming the file and the field. */
export function readAnalysis(path: string): AnalysisResult {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new AnalysisError(`${path}: ${code ? `cannot read (${code})` : `not valid JSON (${(e as Error).message})`}`);
  }
  const r = resultSchema.safeParse(raw);
  if (!r.success) throw new AnalysisError(`${path}: ${issuesMessage(r.error, raw)}`);
  return r.data as AnalysisResult;
}

/**
 * The analysis as a section of a report in `reportDir`: its plots written under
 * `<reportDir>/analysis/`, its headings one level down and its images linked from the report.
 */
export async function analysisSection(result: AnalysisResult, reportDir: string, o: { png?: boolean } = {}): Promise<AnalysisFiles> {
  const written = await writeAnalysis(result, join(reportDir, 'analysis'), o);
  const markdown = written.markdown.replace(/^(#+) /gm, '#$1 ').replace(/\]\((?!https?:)([^)]+)\)/g, '](analysis/$1)');
  return { markdown, files: written.files };
}
