// The mask-level analysis on a tiny study (LeNet-5 at width 0.5 on the shipped Fashion-MNIST
// subset, 2 images per class for the masks, 2 seeds): the IoU and Spearman matrices, the
// random-magnitude overlap against its hypergeometric expectation, the collapse thresholds
// recomputed through the runner's own pipeline, the probe convergence at K_ref, determinism, the
// resumable cache, analysis.json read back, and the `pai analyze` command.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig, type RunSettings } from '../../src/experiment/config.js';
import { analyzeStudies, AnalysisError, type AnalysisOptions, type AnalysisResult } from '../../src/experiment/analysis.js';
import { readAnalysis, writeAnalysis } from '../../src/experiment/analysis-report.js';
import { DataCache, runMaskData, runModel, runPruneOptions, runStudies, runTransforms } from '../../src/experiment/runner.js';
import { pruneAtInit, QuantityMemo, scoreParameters } from '../../src/prune/index.js';
import { pai } from '../cli/run.js';
import { tempDir } from './helpers.js';

const SPARSITIES = [0.5, 0.9];

function tinyStudy(name = 'tiny-analysis'): Record<string, unknown> {
  return {
    name,
    grid: {
      datasets: ['fashion-mnist-subset'], models: [{ name: 'lenet5', width: 0.5 }],
      criteria: ['none', 'random', 'magnitude', 'snip', 'synflow', 'hutch_pruning', 'pat'], sparsities: SPARSITIES, seeds: [0, 1],
    },
    data: { batchSize: 64, trainPerClass: 24, testPerClass: 10, valFraction: 0.25 },
    pruning: { maskPerClass: 2 },
    training: { epochs: 1, optimizer: { name: 'sgd', lr: 0.05, momentum: 0.9 } },
  };
}

const OPTIONS: AnalysisOptions = { probes: [1, 2], probeRef: 4 };
const study = parseConfig(tinyStudy(), 'tiny-analysis.json');

let shared: Promise<AnalysisResult> | null = null;
/** One analysis shared by the tests that only read it. */
function analysis(): Promise<AnalysisResult> {
  shared ??= analyzeStudies([study], OPTIONS);
  return shared;
}

function only<T>(a: readonly T[], what: string): T {
  assert.equal(a.length, 1, `one ${what}`);
  return a[0]!;
}

test('analysis: the setting, its arm, and what is left out', async () => {
  const r = await analysis();
  assert.equal(r.format, 'pai-analysis/1');
  const g = only(r.settings, 'setting');
  assert.deepEqual(g.seeds, [0, 1]);
  assert.deepEqual(g.sparsities, SPARSITIES);
  assert.deepEqual(g.excluded.map((e) => e.criterion).sort(), ['none', 'pat']);
  assert.ok(r.notes.some((n) => /"pat" is not analysed: .*training/.test(n)), r.notes.join('\n'));
  assert.ok(r.notes.some((n) => /one-shot scores/.test(n)));
  assert.ok(r.notes.some((n) => /necessary .* not sufficient/.test(n)));
  const a = only(g.arms, 'arm');
  assert.equal(a.warmup, false);
  assert.deepEqual(a.criteria, ['random', 'magnitude', 'snip', 'synflow', 'hutch_pruning']);
  assert.deepEqual(a.iterative, ['synflow']);
  assert.equal(g.prunable.length, 4);
});

test('analysis: a criterion overlaps itself fully, and the matrices are symmetric', async () => {
  const a = only(only((await analysis()).settings, 'setting').arms, 'arm');
  for (const m of [...a.iou.map((x) => x.matrix), a.spearman]) {
    m.criteria.forEach((_, i) => {
      assert.deepEqual(m.cells[i]![i]!.values, [1, 1]);
      m.criteria.forEach((_, j) => assert.deepEqual(m.cells[i]![j], m.cells[j]![i]));
    });
  }
});

test('analysis: random and magnitude overlap as two independent masks do', async () => {
  // random's ranking is a uniform permutation drawn independently of the weights, so given
  // magnitude's k kept weights, random's k kept ones are a uniform k-subset of the N: their
  // intersection X is hypergeometric with mean k²/N and variance k (k/N)(1 − k/N)(N − k)/(N − 1),
  // and the IoU is X / (2k − X), about d / (2 − d) at density d = k/N (not d itself: the union
  // holds nearly 2k weights). Each seed's value must lie within six standard deviations of X.
  const g = only((await analysis()).settings, 'setting');
  const a = only(g.arms, 'arm');
  const N = g.prunable.reduce((s, l) => s + l.total, 0);
  const iR = a.criteria.indexOf('random'), iM = a.criteria.indexOf('magnitude');
  const { matrix } = a.iou.find((x) => x.sparsity === 0.9)!;
  const k = Math.floor(0.1 * N);
  const mean = k * k / N, sd = Math.sqrt(k * (k / N) * (1 - k / N) * (N - k) / (N - 1));
  const iou = (x: number): number => x / (2 * k - x);
  for (const v of matrix.cells[iR]![iM]!.values) {
    assert.ok(v !== null && v >= iou(mean - 6 * sd) && v <= iou(mean + 6 * sd), `IoU ${v} outside [${iou(mean - 6 * sd)}, ${iou(mean + 6 * sd)}] around ${iou(mean)}`);
  }
});

test('analysis: at each collapse threshold the mask is connected, at the next probe point it is not', async () => {
  const g = only((await analysis()).settings, 'setting');
  const a = only(g.arms, 'arm');
  const cache = new DataCache(undefined);
  const base = study.runs.find((r) => r.settings.criterion === 'random')!.settings;
  let exact = 0;
  for (const c of a.collapse) {
    for (const x of c.seeds) {
      const s: RunSettings = { ...base, criterion: c.criterion, seed: x.seed };
      // Recomputed through the runner's pieces: the run's model, mask data and pruning options.
      const data = cache.forRun(s);
      const md = runMaskData(data.train, s, runTransforms(s).eval);
      const connected = (sparsity: number): boolean | null => pruneAtInit(runModel(s), { ...runPruneOptions({ ...s, sparsity }), data: md, apply: false }).report.connected;
      if (x.bound === 'exact') {
        exact++;
        assert.ok(x.threshold !== null && x.next !== null && x.threshold < x.next);
        assert.ok((1 - x.threshold) / (1 - x.next) <= 1.01 + 1e-12, `${c.criterion}: resolution`);
        assert.equal(connected(x.threshold), true, `${c.criterion} seed ${x.seed} at ${x.threshold}`);
        assert.equal(connected(x.next), false, `${c.criterion} seed ${x.seed} at ${x.next}`);
      } else if (x.bound === 'above') {
        assert.equal(connected(0.99999), true);
      } else {
        assert.equal(x.bound, 'below');
        assert.equal(connected(0.5), false);
      }
    }
  }
  assert.ok(exact > 0, 'some threshold lies inside the search range');
});

test('analysis: probe convergence is exactly 1 at K_ref, and compared with the exact criterion', async () => {
  const a = only(only((await analysis()).settings, 'setting').arms, 'arm');
  const p = only(a.probes, 'probe criterion');
  assert.equal(p.criterion, 'hutch_pruning');
  assert.equal(p.exact, 'ggn_pruning');
  assert.equal(p.diagonal, 'hutch_diag');
  assert.equal(p.reference, 4);
  assert.equal(p.runProbes, 10);
  assert.deepEqual(p.rows.map((r) => r.probes), [1, 2, 4]);
  const ref = p.rows.find((r) => r.probes === 4)!;
  for (const c of ref.iou) assert.deepEqual(c.values, [1, 1]);
  assert.deepEqual(ref.diagonalError!.values, [0, 0]);
  for (const row of p.rows) {
    assert.equal(row.iou.length, SPARSITIES.length);
    for (const c of [...row.iou, ...row.iouExact!]) for (const v of c.values) assert.ok(v !== null && v >= 0 && v <= 1);
    if (row.probes !== 4) for (const v of row.diagonalError!.values) assert.ok(v !== null && v > 0);
  }
  assert.equal(p.stable.length, SPARSITIES.length);
});

test('analysis: deterministic, and resumable from its cache', async () => {
  const first = JSON.stringify(await analysis());
  const dir = tempDir();
  const count = { hits: 0, computed: 0 };
  const withCache = (): Promise<AnalysisResult> => analyzeStudies([study], {
    ...OPTIONS, cacheDir: join(dir, 'cache'),
    events: { cacheHit: () => count.hits++, done: (s) => { count.computed += s.computed; } },
  });
  assert.equal(JSON.stringify(await withCache()), first, 'a second analysis gives the same result');
  assert.equal(count.hits, 0);
  const computed = count.computed;
  assert.ok(computed > 0);
  assert.equal(JSON.stringify(await withCache()), first, 'the cached analysis gives the same result');
  assert.equal(count.hits, computed, 'every unit came from the cache');
  assert.equal(count.computed, computed, 'nothing was computed again');
});

test('analysis: written out, read back, and a damaged file named with its field', async () => {
  const r = await analysis();
  const out = tempDir();
  const w = await writeAnalysis(r, out, { png: false });
  for (const f of ['analysis.json', 'analysis.md']) assert.ok(existsSync(join(out, f)));
  assert.ok(w.files.some((f) => /iou-.*-s0\.9\.svg$/.test(f)) && w.files.some((f) => /probes-.*hutch-pruning\.svg$/.test(f)) && w.files.some((f) => /layers-/.test(f)));
  assert.match(w.markdown, /#### Mask overlap \(IoU\) at sparsity 90%/);
  assert.match(w.markdown, /#### Probe convergence: hutch_pruning/);
  assert.match(w.markdown, /#### Collapse thresholds/);
  assert.deepEqual(readAnalysis(join(out, 'analysis.json')), r);
  const bad = JSON.parse(readFileSync(join(out, 'analysis.json'), 'utf8')) as { settings: { arms: unknown }[] };
  bad.settings[0]!.arms = 5;
  writeFileSync(join(out, 'bad.json'), JSON.stringify(bad));
  assert.throws(() => readAnalysis(join(out, 'bad.json')), (e: Error) => e instanceof AnalysisError && e.message.includes('bad.json') && e.message.includes('settings[0].arms'));
  writeFileSync(join(out, 'other.json'), JSON.stringify({ format: 'pai-result/1' }));
  assert.throws(() => readAnalysis(join(out, 'other.json')), /other\.json: format: must be "pai-analysis\/1"/);
  await assert.rejects(analyzeStudies([study], { criteria: ['pat'] }), /"pat" cannot be analysed/);
});

test('analysis: the masks are the runner\'s, with and without the BN warm-up', async () => {
  // The runner's rows record each prunable tensor's kept count; the analysis's per-layer densities
  // of the same runs must match them exactly. ResNet-20 has batch norm, so the warm-up matters.
  const s2 = parseConfig({
    ...tinyStudy('warm'),
    grid: { datasets: ['fashion-mnist-subset'], models: [{ name: 'resnet20', width: 1 }], criteria: ['snip'], sparsities: [0.9], seeds: [1], warmup: [false, true] },
    data: { batchSize: 64, trainPerClass: 12, testPerClass: 2, valFraction: 0.25 },
  }, 'warm.json');
  const store = tempDir();
  const { done } = await runStudies([s2], { store });
  assert.equal(done.length, 2);
  const a = await analyzeStudies([s2], {});
  const g = only(a.settings, 'setting');
  assert.deepEqual(g.arms.map((x) => x.warmup), [false, true]);
  for (const row of done) {
    const arm = g.arms.find((x) => x.warmup === row.settings.warmup)!;
    const profile = arm.layers.find((l) => l.criterion === row.settings.criterion && l.sparsity === 0.9)!;
    assert.deepEqual(profile.layers.map((l) => l.density.values[0]), row.layers.map((l) => l.density), `${row.settings.criterion} warm-up ${row.settings.warmup}`);
  }
  const [cold, warm] = g.arms.map((x) => x.layers[0]!.layers.map((l) => l.density.values[0]));
  assert.notDeepEqual(cold, warm, 'the warm-up changes the masks');
});

test('a memo of quantities leaves the scores unchanged and computes the Hutchinson diagonal once', () => {
  const s: RunSettings = { ...study.runs.find((r) => r.settings.criterion === 'hutch_pruning')!.settings };
  const data = new DataCache(undefined).forRun(s);
  const md = runMaskData(data.train, s, runTransforms(s).eval);
  const model = runModel(s);
  const o = { seed: 3, probes: 2 };
  const plain = scoreParameters(model, 'hts', md, o);
  const memo = new QuantityMemo();
  scoreParameters(model, 'hutch_pruning', md, { ...o, quantities: memo });
  const memoised = scoreParameters(model, 'hts', md, { ...o, quantities: memo });
  assert.equal(memo.hits, 1);
  assert.equal(memo.misses, 1);
  for (const [n, t] of plain) assert.deepEqual(memoised.get(n)!.data, t.data, n);
  // Another seed draws other probes: a miss, not a wrong answer.
  scoreParameters(model, 'hts', md, { ...o, seed: 4, quantities: memo });
  assert.equal(memo.misses, 2);
});

test('pai analyze writes analysis.json and analysis.md; a bad config exits 2 naming the file', async () => {
  const dir = tempDir();
  const config = join(dir, 'tiny.json');
  writeFileSync(config, JSON.stringify({ ...tinyStudy(), grid: { ...(tinyStudy()['grid'] as object), criteria: ['magnitude', 'snip'], seeds: [0] } }));
  const out = join(dir, 'out');
  const r = await pai(['--quiet', 'analyze', config, '--out', out, '--no-png', '--sparsities', '0.9'], { timeoutMs: 120_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /wrote .*analysis\.json, .*analysis\.md/);
  const res = readAnalysis(join(out, 'analysis.json'));
  assert.deepEqual(res.settings[0]!.sparsities, [0.9]);
  assert.ok(existsSync(join(out, 'cache')));
  writeFileSync(join(dir, 'bad.json'), JSON.stringify({ ...tinyStudy('bad'), pruning: { maskPerClass: 0 } }));
  const bad = await pai(['analyze', join(dir, 'bad.json'), '--out', join(dir, 'bad-out')]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^pai: .*bad\.json.*pruning\.maskPerClass/);
  const flag = await pai(['analyze', config, '--out', out, '--criteria', 'pat']);
  assert.equal(flag.code, 2);
  assert.match(flag.stderr, /^pai: --criteria: "pat" has no mask at initialisation/);
  // pai report adds the analysis: its tables, and its heat map under the report's analysis/.
  const store = join(dir, 'empty-store');
  mkdirSync(join(store, 'rows'), { recursive: true });
  const rep = await pai(['--quiet', 'report', store, '--analysis', join(out, 'analysis.json'), '--out', join(dir, 'report'), '--no-png']);
  assert.equal(rep.code, 0, rep.stderr);
  const md = readFileSync(join(dir, 'report', 'report.md'), 'utf8');
  assert.match(md, /^## Mask-level analysis$/m);
  assert.match(md, /^##### Mask overlap \(IoU\) at sparsity 90%$/m);
  const heat = /!\[IoU at 90%[^\]]*\]\((analysis\/iou-[^)]+\.svg)\)/.exec(md);
  assert.ok(heat, md);
  assert.ok(existsSync(join(dir, 'report', heat[1] ?? '')), 'the heat map is where the report links it');
  writeFileSync(join(dir, 'broken.json'), '{"format": "pai-analysis/1"}');
  const broken = await pai(['report', store, '--analysis', join(dir, 'broken.json'), '--out', join(dir, 'report2')]);
  assert.equal(broken.code, 2);
  assert.match(broken.stderr, /broken\.json/);
});
