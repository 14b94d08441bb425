// The score cache: hits, misses on anything the scores depend on, LRU eviction under a byte limit,
// and recovery from corrupt entries.
import { test, describe, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, readdirSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Generator } from '../../src/tensor/random.js';
import { randn } from '../../src/tensor/create.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { createModel, type Model } from '../../src/models/registry.js';
import { ScoreCache, cachedScores, scoreCacheKey, scoreParameters, bnWarmup, DEFAULT_SCORE_CACHE_DIR, type MaskData, type Scores, type ScoreCacheKeyInput } from '../../src/prune/index.js';

let dir = '';
beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'pai-score-cache-')); });
afterEach(() => { rmSync(dir, { recursive: true, force: true }); });

function model(seed = 3): Model {
  return createModel('lenet5', { width: 0.5, imageSize: 16, seed });
}

function data(seed = 5, n = 4): MaskData {
  return { x: randn([n, 1, 16, 16], new Generator(seed, 'data')), y: Int32Array.from({ length: n }, (_, i) => i % 10) };
}

function input(m: Model, over: Partial<ScoreCacheKeyInput> = {}): ScoreCacheKeyInput {
  return { modelName: 'lenet5', modelOptions: m.config, model: m, criterion: 'snip', data: data(), options: {}, ...over };
}

/** A cache that records its warnings, and a compute function that counts its calls. */
function setup(maxBytes?: number): { cache: ScoreCache; warnings: string[]; calls: () => number; compute: (m: Model, d: MaskData | null, criterion?: string) => () => Scores } {
  const warnings: string[] = [];
  const cache = new ScoreCache({ dir, maxBytes, onWarning: (w) => warnings.push(w) });
  let n = 0;
  return {
    cache, warnings, calls: () => n,
    compute: (m, d, criterion = 'snip') => () => { n++; return scoreParameters(m, criterion, d, { inputShape: [1, 16, 16] }); },
  };
}

function assertSameScores(a: Scores, b: Scores): void {
  assert.deepEqual([...a.keys()], [...b.keys()]);
  for (const [n, t] of a) {
    assert.deepEqual(b.get(n)!.shape, t.shape, n);
    assert.deepEqual(Array.from(b.get(n)!.data), Array.from(t.data), n);
  }
}

describe('score cache', () => {
  test('a second request with the same key is a hit, with identical scores in parameter order', () => {
    const { cache, calls, compute, warnings } = setup();
    const m = model(), d = data();
    const first = cache.cachedScores(scoreCacheKey(input(m, { data: d })), compute(m, d));
    const second = cache.cachedScores(scoreCacheKey(input(m, { data: d })), compute(m, d));
    assert.equal(calls(), 1);
    assertSameScores(first, second);
    assert.deepEqual([...second.keys()], m.namedParameters().map(([n]) => n));
    assert.deepEqual(warnings, []);
    // A fresh cache object on the same directory (another run) hits too.
    const other = new ScoreCache({ dir });
    assert.ok(other.get(scoreCacheKey(input(m, { data: d }))));
    assert.equal(cache.usage().entries.length, 1);
  });

  test('misses when weights, data, criterion, options, semantics, batch size or warm-up change', () => {
    const { cache, calls, compute } = setup();
    const m = model(), d = data();
    const base = input(m, { data: d });
    cache.cachedScores(scoreCacheKey(base), compute(m, d));
    assert.equal(calls(), 1);
    const variants: [string, ScoreCacheKeyInput, () => Scores][] = [];
    const m2 = model();
    m2.namedParameters()[0]![1].data[0]! += 1e-6;
    variants.push(['one weight changed', input(m2, { data: d }), compute(m2, d)]);
    const d2 = data(5); d2.x.data[7]! += 1;
    variants.push(['one pixel changed', input(m, { data: d2 }), compute(m, d2)]);
    const d3 = data(5); d3.y[0] = 9;
    variants.push(['one label changed', input(m, { data: d3 }), compute(m, d3)]);
    variants.push(['criterion', input(m, { data: d, criterion: 'grad_norm' }), compute(m, d, 'grad_norm')]);
    variants.push(['temperature', input(m, { data: d, options: { temperature: 2 } }), compute(m, d)]);
    variants.push(['semantics', input(m, { data: d, options: { semantics: 'reference' } }), compute(m, d)]);
    variants.push(['mask batch size', input(m, { data: d, options: { batchSize: 2 } }), compute(m, d)]);
    variants.push(['warm-up', input(m, { data: d, warmup: true }), compute(m, d)]);
    variants.push(['model options', input(m, { data: d, modelOptions: { ...m.config, width: 0.25 } }), compute(m, d)]);
    variants.push(['model name', input(m, { data: d, modelName: 'lenet5b' }), compute(m, d)]);
    const files = new Set<string>([cache.fileFor(scoreCacheKey(base))]);
    for (const [what, k, c] of variants) {
      const before = calls();
      cache.cachedScores(scoreCacheKey(k), c);
      assert.equal(calls(), before + 1, `${what} must miss`);
      files.add(cache.fileFor(scoreCacheKey(k)));
    }
    assert.equal(files.size, variants.length + 1, 'every variant has its own entry');
    // The BN warm-up changes buffers only; the weights hash covers them.
    const w = createModel('resnet20', { width: 0.25, imageSize: 8, seed: 1 });
    const k0 = scoreCacheKey({ modelName: 'resnet20', model: w, criterion: 'magnitude', data: null });
    bnWarmup(w, [randn([4, 3, 8, 8], new Generator(8, 'warm'))]);
    assert.notEqual(scoreCacheKey({ modelName: 'resnet20', model: w, criterion: 'magnitude', data: null }).weights, k0.weights);
  });

  test('options a criterion does not read do not split the cache; its seed does when it is random', () => {
    const m = model(), d = data();
    const key = (criterion: string, options: object): string => JSON.stringify(scoreCacheKey(input(m, { criterion, data: d, options })));
    assert.equal(key('magnitude', { temperature: 3, probes: 5, seed: 1, batchSize: 2 }), key('magnitude', {}));
    assert.equal(key('snip', { probes: 5, seed: 1 }), key('snip', {}));
    assert.equal(key('snip', { temperature: 1 }), key('snip', {}), 'defaults resolve to the same key');
    assert.notEqual(key('hutch_diag', { seed: 1 }), key('hutch_diag', {}));
    assert.notEqual(key('hutch_diag', { probes: 11 }), key('hutch_diag', {}));
    assert.notEqual(key('random', { seed: 1 }), key('random', {}));
    assert.equal(scoreCacheKey(input(m, { criterion: 'magnitude', data: d })).data, null, 'data-free criteria ignore the data');
    assert.equal(key('magnitude', {}), JSON.stringify(scoreCacheKey(input(m, { criterion: 'magnitude', data: data(6) }))));
  });

  test('least recently used entries are evicted to stay under maxBytes; usage reports size and entries', () => {
    const m = model();
    const one = scoreParameters(m, 'magnitude', null, { inputShape: [1, 16, 16] });
    const probe = new ScoreCache({ dir: join(dir, 'probe') });
    probe.put(scoreCacheKey(input(m, { criterion: 'magnitude' })), one);
    const bytes = probe.usage().bytes;
    assert.ok(bytes > 0);
    const { cache, warnings } = setup(Math.floor(bytes * 3.5)); // room for three entries
    const keys = [0, 1, 2, 3, 4].map((i) => scoreCacheKey(input(m, { modelName: `m${i}`, criterion: 'magnitude' })));
    cache.put(keys[0]!, one); cache.put(keys[1]!, one); cache.put(keys[2]!, one);
    assert.equal(cache.usage().entries.length, 3);
    assert.ok(cache.get(keys[0]!), 'a hit refreshes entry 0');
    cache.put(keys[3]!, one); // evicts the least recently used: entry 1
    assert.equal(cache.get(keys[1]!), null, 'entry 1 was evicted');
    assert.ok(cache.get(keys[0]!) && cache.get(keys[2]!) && cache.get(keys[3]!));
    const u = cache.usage();
    assert.equal(u.entries.length, 3);
    assert.equal(u.bytes, u.entries.reduce((a, e) => a + e.bytes, 0));
    assert.ok(Math.abs(u.bytes - 3 * bytes) < 100, `${u.bytes} vs ${3 * bytes}: entries differ only in their headers`);
    assert.ok(u.bytes <= u.maxBytes);
    assert.equal(u.dir, resolve(dir));
    assert.deepEqual(u.entries.map((e) => e.file), [keys[0]!, keys[2]!, keys[3]!].map((k) => cache.fileFor(k)), 'least recently used first');
    // An entry larger than the whole cache is not stored, with a warning.
    const tiny = new ScoreCache({ dir: join(dir, 'tiny'), maxBytes: 10, onWarning: (w) => warnings.push(w) });
    tiny.put(keys[4]!, one);
    assert.equal(tiny.usage().entries.length, 0);
    assert.ok(warnings.some((w) => /exceed/.test(w)));
    cache.clear();
    assert.equal(cache.usage().entries.length, 0);
  });

  test('a corrupt entry is discarded with a warning and recomputed', () => {
    const { cache, calls, compute, warnings } = setup();
    const m = model(), d = data();
    const key = scoreCacheKey(input(m, { data: d }));
    const first = cache.cachedScores(key, compute(m, d));
    const file = cache.fileFor(key);
    const good = readFileSync(file);
    for (const [what, bytes] of [
      ['truncated', good.subarray(0, good.length - 17)],
      ['garbage', Buffer.from('not a safetensors file at all')],
      ['empty', Buffer.alloc(0)],
    ] as const) {
      writeFileSync(file, bytes);
      const before = calls(), w = warnings.length;
      const again = cache.cachedScores(key, compute(m, d));
      assert.equal(calls(), before + 1, `${what}: recomputed`);
      assertSameScores(first, again);
      assert.equal(warnings.length, w + 1, `${what}: one warning`);
      assert.match(warnings.at(-1)!, /corrupt/);
      assert.deepEqual(readFileSync(file), good, `${what}: the entry is rewritten`);
    }
    // A valid file under the wrong name (another key's scores) is not trusted either.
    const otherKey = scoreCacheKey(input(m, { data: d, criterion: 'grad_norm' }));
    cache.cachedScores(otherKey, compute(m, d, 'grad_norm'));
    writeFileSync(file, readFileSync(cache.fileFor(otherKey)));
    const before = calls();
    assertSameScores(first, cache.cachedScores(key, compute(m, d)));
    assert.equal(calls(), before + 1);
    assert.match(warnings.at(-1)!, /does not match/);
  });

  test('no stray temporaries; writes go through an atomic rename', () => {
    const { cache, compute } = setup();
    const m = model(), d = data();
    for (const c of ['snip', 'grad_norm', 'magnitude']) cache.cachedScores(scoreCacheKey(input(m, { data: d, criterion: c })), compute(m, d, c));
    const names = readdirSync(dir);
    assert.equal(names.length, 3);
    assert.ok(names.every((n) => /^[0-9a-f]{64}\.safetensors$/.test(n)), names.join(', '));
  });

  test('a cache that cannot be written still returns the scores', () => {
    const file = join(dir, 'not-a-dir');
    writeFileSync(file, 'x');
    const warnings: string[] = [];
    const m = model(), d = data();
    const s = cachedScores(scoreCacheKey(input(m, { data: d })), () => scoreParameters(m, 'snip', d), { dir: join(file, 'scores'), onWarning: (w) => warnings.push(w) });
    assert.equal(s.size, m.namedParameters().length);
    assert.ok(warnings.some((w) => /could not store/.test(w)), warnings.join('; '));
  });

  test('the default directory is .pai-cache/scores under the working directory', () => {
    assert.equal(new ScoreCache().dir, resolve(process.cwd(), DEFAULT_SCORE_CACHE_DIR));
    assert.equal(DEFAULT_SCORE_CACHE_DIR, join('.pai-cache', 'scores'));
    assert.ok(!existsSync(join(dir, '.pai-cache')));
  });

  test('float64 scores round-trip', () => {
    const { cache } = setup();
    const m = model();
    const s: Scores = new Map([['w', new Tensor(Float64Array.from([1 / 3, -2, 1e-300]), [3])]]);
    const key = scoreCacheKey(input(m, { criterion: 'magnitude' }));
    cache.put(key, s);
    const got = cache.get(key)!;
    assert.equal(got.get('w')!.dtype, 'float64');
    assert.deepEqual(Array.from(got.get('w')!.data), [1 / 3, -2, 1e-300]);
  });
});
