// The report of a results store: Markdown tables in the paper's layout and plots (SVG and PNG).
//
// The headline number of every run is the test top-1 at the epoch with the best validation
// accuracy (model selection never looks at the test set; the paper's released code selects on the
// test set, which flatters every criterion alike). Cells are mean ± sample standard deviation
// (n − 1 in the denominator) over seeds; a cell with one seed shows the mean alone.
//
// Plots are Vega-Lite specifications compiled and rendered to SVG by Vega in Node (no browser),
// then rasterised to PNG by resvg, which draws text with the system's fonts (DejaVu Sans on
// Debian's fonts-dejavu-core); nothing is downloaded at run time.

import { mkdirSync, writeFileSync } from 'node:fs';
import { writeFileAtomic } from '../tensor/atomic-file.js';
import { z } from 'zod';
import { checkArgument, checkOptions, is } from '../tensor/options.js';
import { at, defined, isNonEmpty, last, zip } from '../tensor/checked.js';
import { join } from 'node:path';
import { DENSE, hashOf, type RunSettings } from './config.js';
import type { ResultRow } from './store.js';
import { criterionNames } from '../prune/index.js';

/** Mean, sample standard deviation (null for one value) and count. */
export interface Stat { mean: number; std: number | null; n: number }

/** The Stat of some values, or null for none. */
export function stat(values: readonly number[]): Stat | null {
  if (values.length === 0) return null;
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  if (n === 1) return { mean, std: null, n };
  const v = values.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1);
  return { mean, std: Math.sqrt(v), n };
}

/** "91.23 ± 0.45" in percent (scale 100) or in the given scale and digits. */
export function fmtStat(s: Stat | null, o: { scale?: number; digits?: number; maxN?: number } = {}): string {
  if (!s) return '—';
  const k = o.scale ?? 100, d = o.digits ?? 2;
  const core = s.std === null ? (k * s.mean).toFixed(d) : `${(k * s.mean).toFixed(d)} ± ${(k * s.std).toFixed(d)}`;
  return o.maxN !== undefined && s.n < o.maxN ? `${core} (n=${s.n})` : core;
}

/** Runs that differ only in the seed belong to one setting of one "study cell". */
export interface Setting { dataset: string; model: string; width: number; key: string; label: string }

/** "resnet20 (width 0.25) on fashion-mnist": how reports name a model and dataset. */
export function settingLabel(s: Pick<RunSettings, 'model' | 'width' | 'dataset'>): string {
  const w = +s.width.toFixed(6);
  return `${s.model}${w !== 1 ? ` (width ${w})` : ''} on ${s.dataset}`;
}

function settingOf(s: RunSettings): Setting {
  const w = +s.width.toFixed(6);
  const label = settingLabel(s);
  // Everything but what the tables spread out (criterion, sparsity, warm-up) and average (seed):
  // runs trained differently never share a cell.
  const { criterion: _c, sparsity: _s, warmup: _w, seed: _seed, ...rest } = s;
  return { dataset: s.dataset, model: s.model, width: w, key: `${s.dataset}|${s.model}|${w}|${hashOf(rest, 8)}`, label };
}

/** The headline accuracy of a row: test top-1 at the best-validation epoch (else the last test). */
export function headline(r: ResultRow): number | null {
  return r.bestTestTop1 ?? r.finalTestTop1;
}

/** The criteria present, in the registry's order (the dense baseline first, unknown names last, sorted). */
export function criterionOrder(present: Iterable<string>): string[] {
  const order = [DENSE, ...criterionNames()];
  const set = new Set(present);
  return [...order.filter((c) => set.has(c)), ...[...set].filter((c) => !order.includes(c)).sort()];
}

/** A Markdown table; `|` in cells is escaped, `align` marks right-aligned columns with 'r'. */
export function mdTable(header: string[], rows: string[][], align: ('l' | 'r')[] = []): string {
  const sep = header.map((_, i) => (align[i] === 'r' ? '---:' : '---'));
  const line = (r: string[]): string => `| ${r.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(header), line(sep), ...rows.map(line)].join('\n');
}

/** The rows of one setting (all seeds) summarised. */
export interface GroupSummary {
  setting: Setting;
  rows: ResultRow[];
  criteria: string[];
  sparsities: number[];
  warmups: boolean[];
  seeds: number[];
}

/** The rows grouped by setting (everything but the seed), with their statistics. */
export function groupRows(rows: readonly ResultRow[]): GroupSummary[] {
  const groups = new Map<string, GroupSummary>();
  for (const r of rows) {
    const st = settingOf(r.settings);
    let g = groups.get(st.key);
    if (!g) { g = { setting: st, rows: [], criteria: [], sparsities: [], warmups: [], seeds: [] }; groups.set(st.key, g); }
    g.rows.push(r);
  }
  for (const g of groups.values()) {
    g.criteria = criterionOrder(g.rows.map((r) => r.settings.criterion));
    const pruned = g.rows.filter((r) => r.settings.criterion !== DENSE);
    g.sparsities = [...new Set(pruned.map((r) => r.settings.sparsity))].sort((a, b) => a - b);
    g.warmups = [...new Set(pruned.map((r) => r.settings.warmup))].sort();
    g.seeds = [...new Set(g.rows.map((r) => r.settings.seed))].sort((a, b) => a - b);
  }
  const out = [...groups.values()].sort((a, b) => a.setting.key.localeCompare(b.setting.key));
  // Groups of one model and dataset that differ in other settings: tell them apart by epochs and a hash.
  const labels = new Map<string, number>();
  for (const g of out) labels.set(g.setting.label, (labels.get(g.setting.label) ?? 0) + 1);
  for (const g of out) {
    // Every group was made for a row, and its label counted above.
    if (defined(labels.get(g.setting.label), 'count of a group label') > 1) g.setting.label += ` (${at(g.rows, 0, 'group rows').settings.epochs} epochs, settings ${g.setting.key.split('|')[3]})`;
  }
  return out;
}

function select(g: GroupSummary, criterion: string, sparsity: number | null, warmup: boolean | null): ResultRow[] {
  return g.rows.filter((r) => r.settings.criterion === criterion
    && (sparsity === null || r.settings.sparsity === sparsity)
    && (warmup === null || r.settings.warmup === warmup));
}

function accuracyStat(rows: readonly ResultRow[]): Stat | null {
  return stat(rows.map(headline).filter((v): v is number => v !== null));
}

const pct = (s: number): string => `${+(100 * s).toFixed(3)}%`;

/** The paper's table: sparsity rows, criterion columns, mean ± std of the headline accuracy. */
export function accuracyTable(g: GroupSummary, warmup: boolean): string {
  const crits = g.criteria.filter((c) => c !== DENSE);
  const maxN = g.seeds.length;
  const body = g.sparsities.map((s) => [pct(s), ...crits.map((c) => {
    const rows = select(g, c, s, warmup);
    const cell = fmtStat(accuracyStat(rows), { maxN });
    return rows.some((r) => r.collapsed) ? `${cell} †` : cell;
  })]);
  return mdTable(['sparsity', ...crits], body, ['l', ...crits.map(() => 'r' as const)]);
}

/** With vs without the BN warm-up for every criterion and sparsity that has both. */
export function warmupTable(g: GroupSummary): string | null {
  if (!(g.warmups.includes(true) && g.warmups.includes(false))) return null;
  const body: string[][] = [];
  for (const c of g.criteria.filter((x) => x !== DENSE)) {
    for (const s of g.sparsities) {
      const off = accuracyStat(select(g, c, s, false)), on = accuracyStat(select(g, c, s, true));
      if (!off || !on) continue;
      const d = 100 * (on.mean - off.mean);
      body.push([c, pct(s), fmtStat(off), fmtStat(on), `${d >= 0 ? '+' : ''}${d.toFixed(2)}`]);
    }
  }
  return body.length ? mdTable(['criterion', 'sparsity', 'without warm-up', 'with warm-up', 'Δ (points)'], body, ['l', 'l', 'r', 'r', 'r']) : null;
}

/** Layer collapse: per criterion and sparsity, collapsed runs / runs and the mean number of empty layers. */
export function collapseTable(g: GroupSummary, warmup: boolean): string {
  const crits = g.criteria.filter((c) => c !== DENSE);
  const body = crits.map((c) => [c, ...g.sparsities.map((s) => {
    const rows = select(g, c, s, warmup);
    if (!rows.length) return '—';
    const collapsed = rows.filter((r) => r.collapsed).length;
    const empty = rows.reduce((a, r) => a + r.emptyLayers.length, 0) / rows.length;
    return `${collapsed}/${rows.length} · ${+empty.toFixed(1)}`;
  })]);
  return mdTable(['criterion', ...g.sparsities.map(pct)], body, ['l', ...g.sparsities.map(() => 'r' as const)]);
}

/** Mask generation (scoring) and warm-up seconds per criterion, over all its runs. */
export function timingTable(g: GroupSummary): string {
  const body = g.criteria.filter((c) => c !== DENSE).map((c) => {
    const cells = [c];
    for (const w of [false, true]) {
      if (!g.warmups.includes(w)) continue;
      const rows = select(g, c, null, w);
      cells.push(fmtStat(stat(rows.map((r) => r.timing.maskSeconds)), { scale: 1, digits: 2 }));
      if (w) cells.push(fmtStat(stat(rows.map((r) => r.timing.warmupSeconds)), { scale: 1, digits: 2 }));
    }
    const all = select(g, c, null, null);
    cells.push(fmtStat(stat(all.map((r) => r.timing.trainSeconds)), { scale: 1, digits: 1 }));
    return cells;
  });
  const header = ['criterion'];
  if (g.warmups.includes(false)) header.push('scoring (s), no warm-up');
  if (g.warmups.includes(true)) header.push('scoring (s), warm-up', 'warm-up (s)');
  header.push('training (s)');
  return mdTable(header, body, ['l', ...header.slice(1).map(() => 'r' as const)]);
}

// ---- plots ----

/** The files of one plot: SVG, and PNG where it could be rendered. */
export interface PlotFiles { svg: string; png: string | null }

const FONT = 'DejaVu Sans';

/**
 * Compiles a Vega-Lite spec (pai's font and sizes added) and writes `base`.svg, and `base`.png
 * when `png`; each file is written whole or not at all (temporary file, then rename).
 */
export async function renderPlot(spec: Record<string, unknown>, base: string, png: boolean): Promise<PlotFiles> {
  const [vega, vl] = await Promise.all([import('vega'), import('vega-lite')]);
  const full = { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', background: 'white', config: { font: FONT, axis: { labelFontSize: 11, titleFontSize: 12 }, legend: { labelFontSize: 11, titleFontSize: 12 }, title: { fontSize: 14 } }, ...spec };
  const compiled = vl.compile(full as Parameters<typeof vl.compile>[0]).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  writeFileAtomic(`${base}.svg`, svg);
  if (!png) return { svg: `${base}.svg`, png: null };
  const { Resvg } = await import('@resvg/resvg-js');
  const image = new Resvg(svg, { font: { loadSystemFonts: true, defaultFontFamily: FONT }, fitTo: { mode: 'zoom', value: 2 }, background: 'white' }).render();
  writeFileAtomic(`${base}.png`, image.asPng());
  return { svg: `${base}.svg`, png: `${base}.png` };
}

/** A lower-case file-name fragment of `s`: letters, digits and dots, runs of anything else as one '-'. */
export function slug(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9.]+/g, '-').replace(/^-|-$/g, '');
}

const ACC_TITLE = 'test top-1 (%) at best validation epoch';

/** Test accuracy against density (log scale), one line per criterion, dashed with the warm-up. */
export async function accuracyPlot(g: GroupSummary, base: string, png = true): Promise<PlotFiles> {
  const points: Record<string, unknown>[] = [];
  for (const c of g.criteria.filter((x) => x !== DENSE)) {
    for (const w of g.warmups) {
      for (const s of g.sparsities) {
        const st = accuracyStat(select(g, c, s, w));
        if (!st) continue;
        const sd = st.std ?? 0;
        points.push({ criterion: c, warmup: w ? 'with warm-up' : 'without warm-up', density: 1 - s, acc: 100 * st.mean, lo: 100 * (st.mean - sd), hi: 100 * (st.mean + sd) });
      }
    }
  }
  const dense = accuracyStat(select(g, DENSE, null, null));
  const densities = [...new Set(points.map((p) => p.density as number))];
  const axisValues = densities.sort((a, b) => a - b);
  const x = { field: 'density', type: 'quantitative', scale: { type: 'log', nice: false, padding: 12 }, axis: { values: axisValues, format: '.3~%', labelAngle: 0 }, title: 'density (fraction of prunable weights kept, log scale)' };
  const y = { field: 'acc', type: 'quantitative', scale: { zero: false }, title: ACC_TITLE };
  const color = { field: 'criterion', type: 'nominal', sort: g.criteria, scale: { scheme: 'tableau20' }, title: 'criterion' };
  // Lines and points are separate layers so that the warm-up legend shows solid and dashed strokes.
  const layers: Record<string, unknown>[] = [
    { mark: { type: 'line', strokeWidth: 2 }, encoding: { x, y, color, strokeDash: { field: 'warmup', type: 'nominal', title: 'BN warm-up' } } },
    { mark: { type: 'circle', size: 40, opacity: 1 }, encoding: { x, y, color, tooltip: [{ field: 'criterion' }, { field: 'warmup' }, { field: 'density' }, { field: 'acc', format: '.2f' }] } },
  ];
  if (points.some((p) => p.hi !== p.lo)) {
    layers.push({ mark: { type: 'errorbar', ticks: true, opacity: 0.6 }, encoding: { x: { field: 'density', type: 'quantitative' }, y: { field: 'lo', type: 'quantitative', title: ACC_TITLE }, y2: { field: 'hi' }, color: { field: 'criterion', type: 'nominal', sort: g.criteria } } });
  }
  if (dense) {
    layers.push({ data: { values: [{ acc: 100 * dense.mean, label: `dense ${(100 * dense.mean).toFixed(2)}%` }] }, mark: { type: 'rule', strokeDash: [2, 2], color: 'black' }, encoding: { y: { field: 'acc', type: 'quantitative' } } });
  }
  return renderPlot({
    title: `Test accuracy vs density: ${g.setting.label}`,
    width: 560, height: 340,
    data: { values: points },
    layer: layers,
  }, base, png);
}

/** One point of a per-layer density plot: a criterion's kept fraction of one prunable tensor. */
export interface LayerDensityPoint { criterion: string; layer: string; density: number }

/**
 * A per-layer density line plot: one line per criterion over the prunable tensors in network order
 * (`layers`, names without `.weight`), criteria coloured in the order given.
 */
export async function layerDensityPlot(values: readonly LayerDensityPoint[], o: { title: string; layers: readonly string[]; criteria: readonly string[] }, base: string, png = true): Promise<PlotFiles> {
  return renderPlot({
    title: o.title,
    width: Math.max(420, 18 * o.layers.length), height: 300,
    data: { values },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'layer', type: 'ordinal', sort: o.layers, axis: { labelAngle: -50, labelLimit: 220 }, title: 'prunable layer (network order)' },
      y: { field: 'density', type: 'quantitative', axis: { format: '.0%' }, title: 'density (kept fraction)' },
      color: { field: 'criterion', type: 'nominal', sort: o.criteria, scale: { scheme: 'tableau20' }, title: 'criterion' },
    },
  }, base, png);
}

/** Per-layer density of every criterion at one sparsity (mean over seeds), in network order. */
export async function layerPlot(g: GroupSummary, sparsity: number, warmup: boolean, base: string, png = true): Promise<PlotFiles> {
  const values: LayerDensityPoint[] = [];
  let order: string[] = [];
  for (const c of g.criteria.filter((x) => x !== DENSE)) {
    const rows = select(g, c, sparsity, warmup);
    if (!isNonEmpty(rows)) continue;
    const names = rows[0].layers.map((l) => l.name);
    if (names.length > order.length) order = names;
    names.forEach((name, i) => {
      const d = rows.reduce((a, r) => a + (r.layers[i]?.density ?? 0), 0) / rows.length;
      values.push({ criterion: c, layer: name.replace(/\.weight$/, ''), density: d });
    });
  }
  return layerDensityPlot(values, {
    title: `Per-layer density at sparsity ${pct(sparsity)}${g.warmups.length > 1 ? (warmup ? ', with warm-up' : ', without warm-up') : ''}: ${g.setting.label}`,
    layers: order.map((n) => n.replace(/\.weight$/, '')), criteria: g.criteria,
  }, base, png);
}

// ---- the whole report ----

/** Options of `writeReport`. */
export interface ReportOptions {
  out: string;
  /** Sparsity of the per-layer density plots (default: the highest in each group). */
  layerSparsity?: number;
  title?: string;
  /** Also rasterise plots to PNG (default true). */
  png?: boolean;
  /** Lines about the store (unusable rows and the like), listed under the title. */
  notes?: string[];
}

/** What `writeReport` wrote. */
export interface ReportResult {
  markdown: string;
  /** report.md, results.csv and the plot files. */
  files: string[];
  groups: GroupSummary[];
}

function csvCell(v: unknown): string {
  const s = v === null || v === undefined ? '' : String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** The rows as CSV, one line per run. */
export function resultsCsv(rows: readonly ResultRow[]): string {
  const cols = ['id', 'study', 'dataset', 'model', 'width', 'criterion', 'sparsity', 'warmup', 'seed', 'epochs', 'best_epoch', 'best_val_top1', 'best_test_top1', 'final_test_top1', 'density', 'empty_layers', 'collapsed', 'warmup_seconds', 'mask_seconds', 'train_seconds', 'backend', 'pai_version'];
  const lines = [cols.join(',')];
  for (const r of rows) {
    const s = r.settings;
    lines.push([r.id, r.study, s.dataset, s.model, s.width, s.criterion, s.sparsity, s.warmup, s.seed, s.epochs, r.best.epoch, r.bestValTop1, r.bestTestTop1, r.finalTestTop1, r.density, r.emptyLayers.length, r.collapsed, r.timing.warmupSeconds, r.timing.maskSeconds, r.timing.trainSeconds, r.pai.backend, r.pai.version].map(csvCell).join(','));
  }
  return `${lines.join('\n')}\n`;
}

/** Writes report.md, results.csv and the plots for the rows into `o.out`. */
export async function writeReport(rows: readonly ResultRow[], o: ReportOptions): Promise<ReportResult> {
  checkArgument('writeReport', 'rows', z.array(z.looseObject({ id: z.string() })), rows);
  checkOptions('writeReport', z.strictObject({
    out: z.string().min(1), layerSparsity: is.fraction.optional(), title: z.string().optional(),
    png: z.boolean().optional(), notes: z.array(z.string()).optional(),
  }), o);
  mkdirSync(o.out, { recursive: true });
  const png = o.png ?? true;
  const groups = groupRows(rows);
  const files: string[] = [];
  const md: string[] = [`# ${o.title ?? 'pai results'}`, ''];
  md.push(`${rows.length} run(s). Accuracy is the test top-1 (%) at the epoch with the best validation top-1, mean ± standard deviation over seeds (sample std, n − 1; one seed: the mean alone; "(n=k)" marks a cell with fewer seeds than the others). † marks a cell where some run's mask left no input-to-output path (layer collapse). Model selection uses a validation split held out of the training set, never the test set.`, '');
  for (const n of o.notes ?? []) md.push(`> ${n}`, '');
  if (rows.length === 0) md.push('The store holds no results yet.', '');

  for (const g of groups) {
    md.push(`## ${g.setting.label}`, '');
    const epochs = [...new Set(g.rows.map((r) => r.settings.epochs))].join(', ');
    md.push(`Seeds: ${g.seeds.join(', ')}; epochs: ${epochs}; backend: ${[...new Set(g.rows.map((r) => r.pai.backend))].join(', ')}.`, '');
    const dense = accuracyStat(select(g, DENSE, null, null));
    if (dense) md.push(`Dense baseline (no pruning): ${fmtStat(dense)}.`, '');
    for (const w of g.warmups) {
      md.push(`### Test accuracy (%), ${w ? 'with' : 'without'} BN warm-up`, '', accuracyTable(g, w), '');
    }
    const wt = warmupTable(g);
    if (wt) md.push('### BN warm-up: with vs without', '', 'Δ = mean with warm-up − mean without, in accuracy points.', '', wt, '');
    md.push('### Layer collapse', '', 'Each cell: runs whose mask leaves no input-to-output path / runs · mean number of fully pruned layers.', '');
    for (const w of g.warmups) md.push(`${w ? 'With' : 'Without'} BN warm-up:`, '', collapseTable(g, w), '');
    md.push('### Mask generation time', '', 'Seconds of scoring (mask generation) per run, mean ± std over all its runs; training time for comparison.', '', timingTable(g), '');

    const clash = groups.filter((x) => x.setting.dataset === g.setting.dataset && x.setting.model === g.setting.model && x.setting.width === g.setting.width).length > 1;
    const base = slug(`${g.setting.dataset}-${g.setting.model}${g.setting.width !== 1 ? `-w${g.setting.width}` : ''}${clash ? `-${g.setting.key.split('|')[3]}` : ''}`);
    if (g.sparsities.length) {
      const acc = await accuracyPlot(g, join(o.out, `accuracy-${base}`), png);
      files.push(acc.svg, ...(acc.png ? [acc.png] : []));
      md.push('### Plots', '', `![Test accuracy against density: ${g.setting.label}](${(acc.png ?? acc.svg).split('/').pop()})`, '');
      const want = o.layerSparsity;
      const s = want !== undefined && g.sparsities.includes(want) ? want : last(g.sparsities, 'group sparsities');
      for (const w of g.warmups) {
        const lp = await layerPlot(g, s, w, join(o.out, `layers-${base}-s${s}${g.warmups.length > 1 ? (w ? '-warmup' : '-nowarmup') : ''}`), png);
        files.push(lp.svg, ...(lp.png ? [lp.png] : []));
        md.push(`![Per-layer density at sparsity ${pct(s)}${w ? ', with warm-up' : ''}](${(lp.png ?? lp.svg).split('/').pop()})`, '');
      }
    }
  }
  const markdown = `${md.join('\n').replace(/\n{3,}/g, '\n\n')}`;
  writeFileSync(join(o.out, 'report.md'), markdown);
  writeFileSync(join(o.out, 'results.csv'), resultsCsv(rows));
  files.unshift(join(o.out, 'report.md'), join(o.out, 'results.csv'));
  return { markdown, files, groups };
}

/** The accuracy tables alone, as plain text for a terminal (the demo prints these). */
export function terminalTables(rows: readonly ResultRow[]): string {
  const out: string[] = [];
  for (const g of groupRows(rows)) {
    out.push(`${g.setting.label}: test top-1 (%) at the best-validation epoch, mean ± std over seeds ${g.seeds.join(', ')}`);
    const dense = accuracyStat(select(g, DENSE, null, null));
    if (dense) out.push(`dense baseline: ${fmtStat(dense)}`);
    const crits = g.criteria.filter((c) => c !== DENSE);
    const header = ['criterion', ...g.warmups.flatMap((w) => g.sparsities.map((s) => `${pct(s)}${g.warmups.length > 1 ? (w ? ' warm' : ' cold') : ''}`))];
    const body = crits.map((c) => [c, ...g.warmups.flatMap((w) => g.sparsities.map((s) => {
      const rows2 = select(g, c, s, w);
      const cell = fmtStat(accuracyStat(rows2));
      return rows2.some((r) => r.collapsed) ? `${cell}†` : cell;
    }))]);
    // Every body row has the header's columns.
    const width = header.map((h, i) => Math.max(h.length, ...body.map((r) => at(r, i, 'table row').length)));
    const line = (r: string[]): string => zip(r, width, 'table row and column widths').map(([c, w], i) => (i === 0 ? c.padEnd(w) : c.padStart(w))).join('  ');
    out.push(line(header), width.map((n) => '-'.repeat(n)).join('  '), ...body.map(line), '');
  }
  if (out.some((l) => l.includes('†'))) out.push('† some run of this cell collapsed (no input-to-output path survived its mask)');
  return out.join('\n');
}
