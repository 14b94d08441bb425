// The report of a results store: Markdown tables in the paper's layout, the study's questions as
// paired comparisons with verdicts, and plots (SVG and PNG).
//
// The headline number of every run is the test top-1 at the epoch with the best validation
// accuracy (model selection never looks at the test set; the paper's released code selects on the
// test set, which flatters every criterion alike). Cells are the mean over seeds ± the half-width of
// its 95 % Student-t confidence interval (n − 1 degrees of freedom); a cell with one seed shows the
// mean alone. Criteria are compared by their per-seed differences (questions.ts, stats.ts), since
// one seed fixes the initialisation, the mask images and the data order of every criterion.
//
// Plots are Vega-Lite specifications compiled and rendered to SVG by Vega in Node (no browser),
// then rasterised to PNG by resvg, which draws text with the system's fonts (DejaVu Sans on
// Debian's fonts-dejavu-core); nothing is downloaded at run time.

import { mkdirSync } from 'node:fs';
import { writeFileAtomic } from '../tensor/atomic-file.js';
import { z } from 'zod';
import { checkArgument, checkOptions, is } from '../tensor/options.js';
import { at, defined, isNonEmpty, last, zip } from '../tensor/checked.js';
import { join } from 'node:path';
import { DENSE, PAT, hashOf, type RunSettings } from './config.js';
import { fmtDifference, fmtInterval, meanInterval, pairedDifference, verdictOf, type Interval } from './stats.js';
import { Cells, collapseComparisons, MATCH_MARGIN, QUESTIONS, studyComparisons, type Comparison } from './questions.js';
import { writeAtomic, type ResultRow } from './store.js';
import { criterionNames } from '../prune/index.js';

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

function accuracyInterval(rows: readonly ResultRow[]): Interval | null {
  return meanInterval(rows.map(headline).filter((v): v is number => v !== null));
}

const pct = (s: number): string => `${+(100 * s).toFixed(3)}%`;

/** The arm a criterion's rows have: `warmup`, or for one-arm criteria (data-free ones, PaT) their only one. */
function armOf(g: GroupSummary, criterion: string, warmup: boolean): boolean {
  return select(g, criterion, null, warmup).length > 0 ? warmup : !warmup && select(g, criterion, null, true).length > 0;
}

/** The paper's table: sparsity rows, criterion columns, mean ± 95 % CI half-width of the headline accuracy. */
export function accuracyTable(g: GroupSummary, warmup: boolean): string {
  const crits = g.criteria.filter((c) => c !== DENSE);
  const maxN = g.seeds.length;
  const body = g.sparsities.map((s) => [pct(s), ...crits.map((c) => {
    const rows = select(g, c, s, armOf(g, c, warmup));
    const cell = fmtInterval(accuracyInterval(rows), { maxN });
    return rows.some((r) => r.collapsed) ? `${cell} †` : cell;
  })]);
  return mdTable(['sparsity', ...crits], body, ['l', ...crits.map(() => 'r' as const)]);
}

/** With vs without the BN warm-up for every criterion and sparsity that has both: the paired difference and its verdict. */
export function warmupTable(g: GroupSummary): string | null {
  if (!(g.warmups.includes(true) && g.warmups.includes(false))) return null;
  const body: string[][] = [];
  for (const c of g.criteria.filter((x) => x !== DENSE)) {
    for (const s of g.sparsities) {
      const offRows = select(g, c, s, false), onRows = select(g, c, s, true);
      if (!offRows.length || !onRows.length) continue;
      const d = pairedDifference(bySeed(onRows), bySeed(offRows));
      body.push([c, pct(s), fmtInterval(accuracyInterval(offRows)), fmtInterval(accuracyInterval(onRows)), fmtDifference(d), verdictOf(d)]);
    }
  }
  return body.length ? mdTable(['criterion', 'sparsity', 'without warm-up', 'with warm-up', 'Δ with − without, points [95 % CI]', 'warm-up better?'], body, ['l', 'l', 'r', 'r', 'r', 'l']) : null;
}

/** Headline accuracy by seed. */
function bySeed(rows: readonly ResultRow[]): Map<number, number> {
  const m = new Map<number, number>();
  for (const r of rows) {
    const v = headline(r);
    if (v !== null) m.set(r.settings.seed, v);
  }
  return m;
}

/**
 * Layer collapse in one warm-up arm: per criterion and sparsity, collapsed runs / runs and the mean
 * number of empty layers. Criteria without rows in the arm (the one-arm data-free ones and PaT in
 * the warm-up arm) are left out, since their masks are the other arm's.
 */
export function collapseTable(g: GroupSummary, warmup: boolean): string {
  const crits = g.criteria.filter((c) => c !== DENSE && select(g, c, null, warmup).length > 0);
  const body = crits.map((c) => [c, ...g.sparsities.map((s) => {
    const rows = select(g, c, s, warmup);
    if (!rows.length) return '—';
    const collapsed = rows.filter((r) => r.collapsed).length;
    const empty = rows.reduce((a, r) => a + r.emptyLayers.length, 0) / rows.length;
    return `${collapsed}/${rows.length} · ${+empty.toFixed(1)}`;
  })]);
  return mdTable(['criterion', ...g.sparsities.map(pct)], body, ['l', ...g.sparsities.map(() => 'r' as const)]);
}

/**
 * What the sparsities mean on this model: how many weights the masks keep, and how many per tensor at
 * the highest sparsity. On a small network "98 %" leaves a few hundred weights, and the criteria then
 * choose which few connections of each layer survive. Null without pruned rows.
 */
export function keptLine(g: GroupSummary): string | null {
  const pruned = g.rows.filter((r) => r.settings.criterion !== DENSE && r.total > 0 && r.layers.length > 0);
  const first = pruned[0];
  if (!first) return null;
  const keptAt = (s: number): number | null => pruned.find((r) => r.settings.sparsity === s)?.kept ?? null;
  const counts = g.sparsities.map((s) => ({ s, kept: keptAt(s) })).filter((x): x is { s: number; kept: number } => x.kept !== null);
  const top = counts[counts.length - 1];
  if (!top) return null;
  const smallest = Math.min(...first.layers.map((l) => l.total));
  return `Prunable weights: ${first.total} in ${first.layers.length} tensors (the smallest holds ${smallest}). The masks keep ${counts.map((x) => `${x.kept} at ${pct(x.s)}`).join(', ')}: `
    + `at ${pct(top.s)} that is ${+(top.kept / first.layers.length).toFixed(1)} weights per tensor on average, so there a criterion decides which few connections of each layer survive rather than how a wide layer thins out.`;
}

/** Mask generation (scoring) and warm-up seconds per criterion, over all its runs (mean ± 95 % CI). */
export function timingTable(g: GroupSummary): string {
  const body = g.criteria.filter((c) => c !== DENSE).map((c) => {
    const cells = [c];
    for (const w of [false, true]) {
      if (!g.warmups.includes(w)) continue;
      const rows = select(g, c, null, w);
      cells.push(fmtInterval(meanInterval(rows.map((r) => r.timing.maskSeconds)), { scale: 1, digits: 2 }));
      if (w) cells.push(fmtInterval(meanInterval(rows.map((r) => r.timing.warmupSeconds)), { scale: 1, digits: 2 }));
    }
    const all = select(g, c, null, null);
    cells.push(fmtInterval(meanInterval(all.map((r) => r.timing.trainSeconds)), { scale: 1, digits: 1 }));
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

/**
 * Test accuracy against density (log scale) in one warm-up arm: a line per criterion with 95 %
 * confidence intervals as error bars (the data-free criteria, which have one arm, appear in both
 * arms' plots), PaT as a black dashed line, and the dense baseline as a black rule with its interval
 * as a grey band. Bars are cut to the range an accuracy can take (see plottedInterval).
 */
export async function accuracyPlot(g: GroupSummary, warmup: boolean, base: string, png = true): Promise<PlotFiles> {
  const points: Record<string, unknown>[] = [];
  const pat: Record<string, unknown>[] = [];
  for (const c of g.criteria.filter((x) => x !== DENSE)) {
    // A criterion without rows in this arm (data-free ones, PaT) shows its only arm.
    const arm = armOf(g, c, warmup);
    for (const s of g.sparsities) {
      const iv = accuracyInterval(select(g, c, s, arm));
      if (!iv) continue;
      const p = { criterion: c, density: 1 - s, ...plottedInterval(iv) };
      (c === PAT ? pat : points).push(p);
    }
  }
  const dense = accuracyInterval(select(g, DENSE, null, null));
  const axisValues = [...new Set([...points, ...pat].map((p) => p.density as number))].sort((a, b) => a - b);
  const x = { field: 'density', type: 'quantitative', scale: { type: 'log', nice: false, padding: 12 }, axis: { values: axisValues, format: '.3~%', labelAngle: 0 }, title: 'density (fraction of prunable weights kept, log scale)' };
  const y = { field: 'acc', type: 'quantitative', scale: { zero: false }, title: ACC_TITLE };
  const crits = g.criteria.filter((c) => c !== DENSE && c !== PAT);
  const color = { field: 'criterion', type: 'nominal', sort: crits, scale: { scheme: 'tableau20' }, title: 'criterion' };
  const layers: Record<string, unknown>[] = [];
  if (dense) {
    if (dense.half !== null) layers.push({ data: { values: [plottedInterval(dense)] }, mark: { type: 'rect', color: '#bbbbbb', opacity: 0.35 }, encoding: { y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' } } });
    layers.push({ data: { values: [{ acc: 100 * dense.mean }] }, mark: { type: 'rule', strokeDash: [2, 2], color: 'black' }, encoding: { y: { field: 'acc', type: 'quantitative' } } });
    layers.push({ data: { values: [{ acc: 100 * dense.mean, label: `dense ${(100 * dense.mean).toFixed(2)}%` }] }, mark: { type: 'text', align: 'left', dx: 4, dy: -7, x: 0, fontSize: 11 }, encoding: { y: { field: 'acc', type: 'quantitative' }, text: { field: 'label' } } });
  }
  layers.push(
    { mark: { type: 'line', strokeWidth: 2 }, encoding: { x, y, color } },
    { mark: { type: 'circle', size: 40, opacity: 1 }, encoding: { x, y, color, tooltip: [{ field: 'criterion' }, { field: 'density' }, { field: 'acc', format: '.2f' }, { field: 'lo', format: '.2f' }, { field: 'hi', format: '.2f' }] } },
  );
  if (points.some((p) => p.hi !== p.lo)) {
    layers.push({ mark: { type: 'errorbar', ticks: true, opacity: 0.7 }, encoding: { x: { field: 'density', type: 'quantitative' }, y: { field: 'lo', type: 'quantitative', title: ACC_TITLE }, y2: { field: 'hi' }, color: { field: 'criterion', type: 'nominal', sort: crits } } });
  }
  if (pat.length) {
    const px = { ...x }, py = { ...y };
    layers.push(
      { data: { values: pat }, mark: { type: 'line', strokeWidth: 2, color: 'black', strokeDash: [6, 3] }, encoding: { x: px, y: py } },
      { data: { values: pat }, mark: { type: 'square', size: 50, color: 'black' }, encoding: { x: px, y: py, tooltip: [{ field: 'criterion' }, { field: 'density' }, { field: 'acc', format: '.2f' }] } },
      // Labelled at its sparsest point, the left end of the line, away from the legend on the right.
      { data: { values: pat.slice(-1).map((p) => ({ ...p, label: 'PaT (pruned after training)' })) }, mark: { type: 'text', align: 'left', dx: 6, dy: 12, fontSize: 11 }, encoding: { x: px, y: py, text: { field: 'label' } } },
    );
    if (pat.some((p) => p.hi !== p.lo)) layers.push({ data: { values: pat }, mark: { type: 'errorbar', ticks: true, color: 'black' }, encoding: { x: { field: 'density', type: 'quantitative' }, y: { field: 'lo', type: 'quantitative', title: ACC_TITLE }, y2: { field: 'hi' } } });
  }
  const arms = g.warmups.length > 1 ? (warmup ? ', with BN warm-up' : ', without BN warm-up') : '';
  return renderPlot({
    title: { text: `Test accuracy vs density${arms}: ${g.setting.label}`, subtitle: 'mean over seeds; bars: 95 % confidence intervals, cut at 0 and 100 %; grey band: the dense network\'s; black dashed: PaT' },
    width: 560, height: 340,
    data: { values: points },
    layer: layers,
  }, base, png);
}

/**
 * An accuracy interval as the accuracy plot draws it, in percent, its ends cut to [0, 100]: with three
 * seeds a cell where one run collapsed to chance has a Student-t half-width of tens of points, and an
 * axis stretched to −40 or 140 % would flatten every other line. The tables keep the whole interval.
 */
export function plottedInterval(iv: { mean: number; lo: number; hi: number }): { acc: number; lo: number; hi: number } {
  return { acc: 100 * iv.mean, lo: Math.max(0, 100 * iv.lo), hi: Math.min(100, 100 * iv.hi) };
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
  /** Markdown sections appended at the end (the mask-level analysis, for one). */
  sections?: string[];
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
  const cols = ['id', 'study', 'dataset', 'model', 'width', 'criterion', 'sparsity', 'warmup', 'seed', 'epochs', 'best_epoch', 'best_val_top1', 'best_test_top1', 'final_test_top1', 'density', 'empty_layers', 'collapsed', 'warmup_seconds', 'mask_seconds', 'train_seconds', 'backend', 'threads', 'cpu', 'pai_version'];
  const lines = [cols.join(',')];
  for (const r of rows) {
    const s = r.settings;
    lines.push([r.id, r.study, s.dataset, s.model, s.width, s.criterion, s.sparsity, s.warmup, s.seed, s.epochs, r.best.epoch, r.bestValTop1, r.bestTestTop1, r.finalTestTop1, r.density, r.emptyLayers.length, r.collapsed, r.timing.warmupSeconds, r.timing.maskSeconds, r.timing.trainSeconds, r.pai.backend, r.pai.threads, r.pai.cpu ?? '', r.pai.version].map(csvCell).join(','));
  }
  return `${lines.join('\n')}\n`;
}

const VERDICT_MARK: Readonly<Record<string, string>> = { supported: '▲', refuted: '▼', 'not resolved': '·' };

/** A comparison's verdict, with the match where its question asks for one. */
function verdictText(c: Comparison): string {
  if (!c.match || c.verdict !== 'not resolved') return c.verdict;
  return c.match.holds ? `match: not worse by ${+(100 * c.match.margin).toFixed(2)} point(s)` : c.verdict;
}

/** The claims of questions 1-5 as tables: claim, sparsity, paired difference with its interval, verdict. */
export function questionsSection(g: GroupSummary): string[] {
  const comparisons = studyComparisons(new Cells(g.rows, headline));
  if (!comparisons.length) return [];
  const md: string[] = ['### The questions, as paired comparisons', '',
    'Each row is the claim "A − B > 0" on the test accuracy. Δ is the mean over seeds of the per-seed difference A − B, in accuracy points, with its 95 % Student-t interval; "supported" where the whole interval lies above zero, "refuted" where it lies below, "not resolved" otherwise (at this number of seeds the noise cannot decide). Questions 2 and 4 ask for a match: an unresolved interval whose lower end lies above −1 point reads "match" (A is not worse by more than 1 point). A family (second-order, first-order, data-dependent) is the per-seed mean of its criteria.', ''];
  const byQ = new Map<number, Comparison[]>();
  for (const c of comparisons) byQ.set(c.question, [...(byQ.get(c.question) ?? []), c]);
  for (const [q, list] of byQ) {
    const matches = list.filter((c) => c.verdict === 'not resolved' && c.match?.holds).length;
    const counts = ['supported', 'refuted', 'not resolved'].map((v) => `${list.filter((c) => c.verdict === v).length} ${v}`).join(', ') + (matches ? `, of which ${matches} a match within ${+(100 * MATCH_MARGIN).toFixed(2)} point(s)` : '');
    md.push(`**Q${q}. ${QUESTIONS[q] ?? ''}** (${counts})`, '');
    md.push(mdTable(['sparsity', 'A', 'B', 'Δ A − B, points [95 % CI]', 'seeds', 'verdict'],
      list.map((c) => [pct(c.sparsity), c.a.label, c.b.label, fmtDifference(c.difference), String(c.difference.n), verdictText(c)]),
      ['l', 'l', 'l', 'r', 'r', 'l']), '');
  }
  return md;
}

/** Every pair of criteria at one sparsity and arm: the mean per-seed difference row − column, marked by its verdict. */
export function pairwiseTable(g: GroupSummary, sparsity: number, warmup: boolean): string | null {
  const crits = g.criteria.filter((c) => c !== DENSE && select(g, c, sparsity, armOf(g, c, warmup)).length > 0);
  if (crits.length < 2) return null;
  const seeds = new Map(crits.map((c) => [c, bySeed(select(g, c, sparsity, armOf(g, c, warmup)))]));
  const body = crits.map((a) => [a, ...crits.map((b) => {
    if (a === b) return '';
    const d = pairedDifference(seeds.get(a) ?? new Map(), seeds.get(b) ?? new Map());
    if (!d) return '—';
    return `${d.mean >= 0 ? '+' : '−'}${Math.abs(100 * d.mean).toFixed(1)} ${VERDICT_MARK[verdictOf(d)] ?? ''}`;
  })]);
  return mdTable(['row − column', ...crits], body, ['l', ...crits.map(() => 'r' as const)]);
}

/** The distinct values, in order of first appearance; where there are several, each with its count of runs. */
export function tally(values: readonly string[], sep: string): string {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  if (counts.size <= 1) return [...counts.keys()].join(sep);
  return [...counts].map(([v, n]) => `${v} (${n} run${n === 1 ? '' : 's'})`).join(sep);
}

/** The dense network at this group's budget against the same network at other budgets (groups that differ in epochs only). */
export function convergenceLines(g: GroupSummary, groups: readonly GroupSummary[]): string[] {
  const dense = g.rows.filter((r) => r.settings.criterion === DENSE);
  const first = dense[0];
  if (!first) return [];
  const rest = (s: RunSettings): string => {
    const { epochs: _e, schedule, criterion: _c, sparsity: _s, warmup: _w, seed: _seed, ...other } = s;
    // A cosine schedule's length follows the epochs unless given: compare everything else.
    return hashOf({ ...other, schedule: { ...schedule, tMax: undefined } });
  };
  const mine = rest(first.settings), epochs = first.settings.epochs;
  const others = groups.filter((h) => h !== g).flatMap((h) => {
    const d = h.rows.filter((r) => r.settings.criterion === DENSE);
    const f = d[0];
    return f && rest(f.settings) === mine && f.settings.epochs !== epochs ? [{ epochs: f.settings.epochs, rows: d }] : [];
  }).sort((a, b) => a.epochs - b.epochs);
  if (!others.length) return [];
  const lines = [`Convergence of the dense network at ${epochs} epochs (this budget) and at other budgets, same seeds:`, ''];
  const here = bySeed(dense);
  const body = [[`${epochs} (the study's)`, fmtInterval(accuracyInterval(dense)), '', '']];
  for (const o of others) {
    const d = pairedDifference(bySeed(o.rows), here);
    const verdict = d ? (Math.abs(d.mean) <= 0.01 ? 'within 1 point' : `${(100 * Math.abs(d.mean)).toFixed(2)} points apart`) : '—';
    body.push([String(o.epochs), fmtInterval(accuracyInterval(o.rows)), fmtDifference(d), verdict]);
  }
  lines.push(mdTable(['epochs', 'dense test top-1 (%)', `Δ against ${epochs} epochs [95 % CI]`, 'mean difference'], body, ['l', 'r', 'r', 'l']), '');
  return lines;
}

/** Question 3's collapse part: collapsed runs and fully pruned layers without and with the warm-up. */
export function collapseComparisonTable(g: GroupSummary): string | null {
  const list = collapseComparisons(g.rows);
  if (!list.length) return null;
  const side = (x: { runs: number; collapsed: number; emptyLayers: number }): string => `${x.collapsed}/${x.runs} · ${+x.emptyLayers.toFixed(1)}`;
  return mdTable(['criterion', 'sparsity', 'without warm-up', 'with warm-up', 'Δ empty layers, with − without [95 % CI]'],
    list.map((c) => [c.criterion, pct(c.sparsity), side(c.cold), side(c.warm), fmtDifference(c.emptyDifference, { scale: 1, digits: 1 })]),
    ['l', 'l', 'r', 'r', 'r']);
}

/** Writes report.md, results.csv and the plots for the rows into `o.out`. */
export async function writeReport(rows: readonly ResultRow[], o: ReportOptions): Promise<ReportResult> {
  checkArgument('writeReport', 'rows', z.array(z.looseObject({ id: z.string() })), rows);
  checkOptions('writeReport', z.strictObject({
    out: z.string().min(1), layerSparsity: is.fraction.optional(), title: z.string().optional(),
    png: z.boolean().optional(), notes: z.array(z.string()).optional(), sections: z.array(z.string()).optional(),
  }), o);
  mkdirSync(o.out, { recursive: true });
  const png = o.png ?? true;
  const groups = groupRows(rows);
  const files: string[] = [];
  const md: string[] = [`# ${o.title ?? 'pai results'}`, ''];
  md.push(`${rows.length} run(s). Accuracy is the test top-1 (%) at the epoch with the best validation top-1: the mean over seeds ± the half-width of its 95 % confidence interval (Student's t, n − 1 degrees of freedom; one seed: the mean alone; "(n=k)" marks a cell with fewer seeds than the others). Criteria are compared by their per-seed differences, since a seed fixes the initialisation, the validation split, the mask images and the data order of every criterion. † marks a cell where some run's mask left no input-to-output path (layer collapse). Model selection uses a validation split held out of the training set, never the test set. Data-free criteria and PaT have one arm (no warm-up), shown in both arms' tables.`, '');
  for (const n of o.notes ?? []) md.push(`> ${n}`, '');
  if (rows.length === 0) md.push('The store holds no results yet.', '');

  for (const g of groups) {
    md.push(`## ${g.setting.label}`, '');
    const epochs = [...new Set(g.rows.map((r) => r.settings.epochs))].join(', ');
    md.push(`Seeds: ${g.seeds.join(', ')}; epochs: ${epochs}; backend: ${tally(g.rows.map((r) => r.pai.backend), ', ')}; threads: ${tally(g.rows.map((r) => String(r.pai.threads)), ', ')}; CPU: ${tally(g.rows.map((r) => r.pai.cpu ?? 'not recorded'), '; ')}.`, '');
    const dense = accuracyInterval(select(g, DENSE, null, null));
    if (dense) md.push(`Dense baseline (no pruning): ${fmtInterval(dense)}.`, '');
    if (!g.sparsities.length) continue;
    const kept = keptLine(g);
    if (kept) md.push(kept, '');
    md.push(...convergenceLines(g, groups));
    for (const w of g.warmups) {
      md.push(`### Test accuracy (%), ${w ? 'with' : 'without'} BN warm-up`, '', accuracyTable(g, w), '');
    }
    md.push(...questionsSection(g));
    const wt = warmupTable(g);
    if (wt) md.push('### BN warm-up: with vs without', '', 'Δ = the mean per-seed difference, with − without, in accuracy points, with its 95 % interval.', '', wt, '');
    md.push('### Layer collapse', '', 'Each cell: runs whose mask leaves no input-to-output path / runs · mean number of fully pruned layers.', '');
    for (const w of g.warmups) md.push(`${w ? 'With' : 'Without'} BN warm-up:`, '', collapseTable(g, w), '');
    const cc = collapseComparisonTable(g);
    if (cc) md.push('Without against with the warm-up (collapsed / runs · mean empty layers):', '', cc, '');
    md.push('### Every pair of criteria', '', 'Mean per-seed difference row − column in accuracy points; ▲ the interval lies above zero, ▼ below, · undecided.', '');
    for (const w of g.warmups) {
      for (const s of g.sparsities) {
        const t = pairwiseTable(g, s, w);
        if (t) md.push(`At ${pct(s)}${g.warmups.length > 1 ? (w ? ', with warm-up' : ', without warm-up') : ''}:`, '', t, '');
      }
    }
    md.push('### Mask generation time', '', 'Seconds of scoring (mask generation) per run, mean ± 95 % CI half-width over all its runs; training time for comparison.', '', timingTable(g), '');

    const clash = groups.filter((x) => x.setting.dataset === g.setting.dataset && x.setting.model === g.setting.model && x.setting.width === g.setting.width).length > 1;
    const base = slug(`${g.setting.dataset}-${g.setting.model}${g.setting.width !== 1 ? `-w${g.setting.width}` : ''}${clash ? `-${g.setting.key.split('|')[3]}` : ''}`);
    md.push('### Plots', '');
    for (const w of g.warmups) {
      const acc = await accuracyPlot(g, w, join(o.out, `accuracy-${base}${g.warmups.length > 1 ? (w ? '-warmup' : '-nowarmup') : ''}`), png);
      files.push(acc.svg, ...(acc.png ? [acc.png] : []));
      md.push(`![Test accuracy against density${w ? ', with warm-up' : ''}: ${g.setting.label}](${(acc.png ?? acc.svg).split('/').pop()})`, '');
    }
    const want = o.layerSparsity;
    const s = want !== undefined && g.sparsities.includes(want) ? want : last(g.sparsities, 'group sparsities');
    for (const w of g.warmups) {
      const lp = await layerPlot(g, s, w, join(o.out, `layers-${base}-s${s}${g.warmups.length > 1 ? (w ? '-warmup' : '-nowarmup') : ''}`), png);
      files.push(lp.svg, ...(lp.png ? [lp.png] : []));
      md.push(`![Per-layer density at sparsity ${pct(s)}${w ? ', with warm-up' : ''}](${(lp.png ?? lp.svg).split('/').pop()})`, '');
    }
  }
  for (const sec of o.sections ?? []) md.push(sec, '');
  const markdown = `${md.join('\n').replace(/\n{3,}/g, '\n\n')}`;
  writeAtomic(join(o.out, 'report.md'), markdown);
  writeAtomic(join(o.out, 'results.csv'), resultsCsv(rows));
  files.unshift(join(o.out, 'report.md'), join(o.out, 'results.csv'));
  return { markdown, files, groups };
}

/** The accuracy tables alone, as plain text for a terminal (the demo prints these). */
export function terminalTables(rows: readonly ResultRow[]): string {
  const out: string[] = [];
  for (const g of groupRows(rows)) {
    out.push(`${g.setting.label}: test top-1 (%) at the best-validation epoch, mean ± 95 % CI half-width over seeds ${g.seeds.join(', ')}`);
    const dense = accuracyInterval(select(g, DENSE, null, null));
    if (dense) out.push(`dense baseline: ${fmtInterval(dense)}`);
    const crits = g.criteria.filter((c) => c !== DENSE);
    if (!crits.length) { out.push(''); continue; }
    const header = ['criterion', ...g.warmups.flatMap((w) => g.sparsities.map((s) => `${pct(s)}${g.warmups.length > 1 ? (w ? ' warm' : ' cold') : ''}`))];
    const body = crits.map((c) => [c, ...g.warmups.flatMap((w) => g.sparsities.map((s) => {
      const rows2 = select(g, c, s, armOf(g, c, w));
      const cell = fmtInterval(accuracyInterval(rows2));
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
