// Properties of masks, schedules and the two semantics, checked on many seeded random cases against
// a direct (sort-based) statement of the contract in DESIGN.md rather than against the code's own
// algorithm: k = max(floor((1 - s) N), 1) kept, largest scores first, ties to the lower index.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor } from '../../src/tensor/tensor.js';
import { Generator } from '../../src/tensor/random.js';
import { randn } from '../../src/tensor/create.js';
import { createModel, type Model } from '../../src/models/registry.js';
import {
  makeMasks, keptCount, applyMasks, scheduleSparsity, iterativePrune, prunableSet, scoreParameters,
  resolveCriterionOptions, criteria, PruneError, type Scores, type MaskData,
} from '../../src/prune/index.js';
import { selectRank } from '../../src/prune/masks.js';

/** The kept indices by the contract: sort by score descending, then index ascending; first k. */
function contractKeep(v: ArrayLike<number>, k: number): Uint8Array {
  const idx = Array.from({ length: v.length }, (_, i) => i);
  idx.sort((a, b) => (v[b]! - v[a]!) || (a - b));
  const keep = new Uint8Array(v.length);
  for (let j = 0; j < Math.min(k, v.length); j++) keep[idx[j]!] = 1;
  return keep;
}

interface Case { scores: Scores; prunable: Set<string>; sparsity: number; scope: 'global' | 'layer' }

/** Random tensors of random shapes; some score sets are quantised so that ties are common. */
function randomCase(g: Generator): Case {
  const count = 1 + Math.floor(g.uniform() * 5);
  const scores: Scores = new Map();
  const prunable = new Set<string>();
  const levels = g.uniform() < 0.5 ? 1 + Math.floor(g.uniform() * 6) : 0;
  for (let t = 0; t < count; t++) {
    const rank = 1 + Math.floor(g.uniform() * 3);
    const shape = Array.from({ length: rank }, () => 1 + Math.floor(g.uniform() * 7));
    const size = shape.reduce((a, b) => a * b, 1);
    const d = new Float32Array(size);
    for (let i = 0; i < size; i++) d[i] = levels ? Math.floor(g.uniform() * levels) / levels : g.normal();
    const name = `layer${t}.${g.uniform() < 0.3 ? 'bias' : 'weight'}`;
    scores.set(name, new Tensor(d, shape));
    if (g.uniform() < 0.7) prunable.add(name);
  }
  if (prunable.size === 0) prunable.add([...scores.keys()][0]!);
  const fixedS = [0, 0.5, 0.9, 0.99, 0.1, 0.7, 0.3];
  const sparsity = g.uniform() < 0.5 ? fixedS[Math.floor(g.uniform() * fixedS.length)]! : g.uniform() * 0.999;
  return { scores, prunable, sparsity, scope: g.uniform() < 0.5 ? 'global' : 'layer' };
}

function ones(m: Tensor): boolean {
  for (let i = 0; i < m.size; i++) if (m.data[i] !== 1) return false;
  return true;
}

function kept(m: Tensor): number {
  let k = 0;
  for (let i = 0; i < m.size; i++) k += m.data[i]!;
  return k;
}

describe('makeMasks properties', () => {
  test('keptCount follows floor((1 - s) N) in float64, at least 1', () => {
    assert.equal(1 - 0.9, 0.09999999999999998);
    assert.equal(keptCount(100, 0.9), 9, '(1 - 0.9) * 100 = 9.999999999999998 floors to 9');
    assert.equal(keptCount(10, 0.9), 1, '0.9999999999999998 floors to 0, and the minimum is 1');
    assert.equal(keptCount(1000, 0.99), 10, '(1 - 0.99) * 1000 = 10.000000000000009');
    assert.equal(keptCount(100, 0.5), 50);
    assert.equal(keptCount(7, 0), 7);
    assert.equal(keptCount(5, 0.999), 1);
    for (let n = 1; n < 300; n += 7) for (const s of [0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99]) {
      assert.equal(keptCount(n, s), Math.max(Math.floor((1 - s) * n), 1), `n=${n} s=${s}`);
    }
  });

  test('500 random cases: counts, scope, non-prunable ones, ties to the lower index', () => {
    const g = new Generator(2024, 'mask-properties');
    let ties = 0;
    for (let c = 0; c < 500; c++) {
      const { scores, prunable, sparsity, scope } = randomCase(g);
      const masks = makeMasks(scores, prunable, sparsity, scope);
      const label = `case ${c} (${scope}, s=${sparsity})`;
      assert.deepEqual([...masks.keys()], [...scores.keys()], `${label}: one mask per score, in order`);
      for (const [n, m] of masks) {
        assert.deepEqual(m.shape, scores.get(n)!.shape, `${label} ${n}: shape`);
        assert.equal(m.dtype, 'float32');
        for (let i = 0; i < m.size; i++) assert.ok(m.data[i] === 0 || m.data[i] === 1, `${label} ${n}: 0/1`);
        if (!prunable.has(n)) assert.ok(ones(m), `${label} ${n}: non-prunable mask must be all ones`);
      }
      const names = [...scores.keys()].filter((n) => prunable.has(n));
      if (scope === 'layer') {
        for (const n of names) {
          const s = scores.get(n)!;
          const want = contractKeep(s.data, keptCount(s.size, sparsity));
          assert.equal(kept(masks.get(n)!), keptCount(s.size, sparsity), `${label} ${n}: kept count`);
          assert.deepEqual(Uint8Array.from(masks.get(n)!.data), want, `${label} ${n}: kept set`);
        }
      } else {
        const all = names.flatMap((n) => Array.from(scores.get(n)!.data));
        const want = contractKeep(all, keptCount(all.length, sparsity));
        const got = names.flatMap((n) => Array.from(masks.get(n)!.data));
        assert.equal(got.reduce((a, b) => a + b, 0), keptCount(all.length, sparsity), `${label}: global kept count`);
        assert.deepEqual(Uint8Array.from(got), want, `${label}: global kept set`);
      }
      if (new Set([...scores.values()].flatMap((t) => Array.from(t.data))).size < [...scores.values()].reduce((a, t) => a + t.size, 0)) ties++;
    }
    assert.ok(ties > 100, `the generator must produce ties (${ties})`);
  });

  test('ties across tensors go to the earlier tensor in parameter order', () => {
    const scores: Scores = new Map([
      ['a.weight', new Tensor(new Float32Array([1, 1, 1]), [3])],
      ['b.weight', new Tensor(new Float32Array([1, 2, 1]), [3])],
    ]);
    const m = makeMasks(scores, new Set(['a.weight', 'b.weight']), 0.5, 'global'); // keep 3 of 6
    assert.deepEqual(Array.from(m.get('a.weight')!.data), [1, 1, 0]);
    assert.deepEqual(Array.from(m.get('b.weight')!.data), [0, 1, 0]);
    // Negative and zero scores are ranked as signed values (the reference keeps the largest signed score).
    const signed: Scores = new Map([['w', new Tensor(new Float32Array([-3, 0, -1, 0, 2]), [5])]]);
    assert.deepEqual(Array.from(makeMasks(signed, new Set(['w']), 0.5, 'layer').get('w')!.data), [0, 1, 0, 0, 1]);
  });

  test('NaN scores are refused, naming the tensor', () => {
    const scores: Scores = new Map([
      ['ok.weight', new Tensor(new Float32Array([1, 2]), [2])],
      ['bad.weight', new Tensor(new Float32Array([1, NaN, 3]), [3])],
    ]);
    for (const scope of ['global', 'layer'] as const) {
      assert.throws(() => makeMasks(scores, new Set(scores.keys()), 0.5, scope), (e: unknown) => e instanceof PruneError && /bad\.weight/.test(e.message) && /NaN/.test(e.message));
    }
    // A NaN in a non-prunable tensor does not matter: it is never ranked.
    const m = makeMasks(scores, new Set(['ok.weight']), 0.5, 'global');
    assert.ok(ones(m.get('bad.weight')!));
  });

  test('sparsity outside [0, 1) is refused', () => {
    const scores: Scores = new Map([['w', new Tensor(new Float32Array([1, 2, 3]), [3])]]);
    for (const s of [-0.1, 1, 1.5, NaN, Infinity, -Infinity]) {
      assert.throws(() => makeMasks(scores, new Set(['w']), s, 'global'), (e: unknown) => e instanceof PruneError && /\[0, 1\)/.test(e.message), `s=${s}`);
    }
    assert.equal(kept(makeMasks(scores, new Set(['w']), 0, 'global').get('w')!), 3);
  });

  test('a prunable parameter without scores is refused', () => {
    const scores: Scores = new Map([['w', new Tensor(new Float32Array([1, 2, 3]), [3])]]);
    assert.throws(() => makeMasks(scores, new Set(['w', 'v']), 0.5, 'global'), /no scores for prunable parameter v/);
  });
});

function smallModel(): Model {
  return createModel('lenet5', { width: 0.5, imageSize: 16, seed: 3 });
}

function smallData(n: number, inChannels: number, size: number, seed = 5): MaskData {
  const g = new Generator(seed, 'data');
  return { x: randn([n, inChannels, size, size], g), y: Int32Array.from({ length: n }, (_, i) => i % 10) };
}

describe('applyMasks', () => {
  test('zeroes exactly the masked weights and leaves every other value bit-identical', () => {
    const model = createModel('resnet20', { width: 0.25, imageSize: 8, seed: 1 });
    const before = new Map(model.stateDict());
    const saved = new Map([...before].map(([n, t]) => [n, t.data.slice()]));
    const prunable = prunableSet(model, 'reference');
    const scores = scoreParameters(model, 'random', null, { inputShape: [3, 8, 8], seed: 9 });
    const masks = makeMasks(scores, prunable, 0.8, 'global');
    applyMasks(model, masks);
    for (const [n, t] of model.stateDict()) {
      assert.equal(t, before.get(n), `${n}: same tensor object`);
      const m = masks.get(n), old = saved.get(n)!;
      for (let i = 0; i < t.size; i++) {
        if (m && m.data[i] === 0) assert.equal(t.data[i], 0, `${n}[${i}] must be zeroed`);
        else assert.ok(Object.is(t.data[i], old[i]), `${n}[${i}] must be untouched`);
      }
      if (!prunable.has(n) && m) assert.ok(ones(m), `${n}: non-prunable mask all ones`);
    }
  });

  test('refuses masks for unknown parameters or of the wrong shape', () => {
    const model = smallModel();
    assert.throws(() => applyMasks(model, new Map([['nope.weight', new Tensor(new Float32Array(1), [1])]])), /nope\.weight/);
    assert.throws(() => applyMasks(model, new Map([['conv1.weight', new Tensor(new Float32Array(3), [3])]])), /shape/);
  });
});

describe('schedules and iterative pruning', () => {
  test('fixed schedules: exponential and linear densities per iteration, final exact', () => {
    for (const s of [0.5, 0.9, 0.99]) {
      const d = 1 - s;
      for (const E of [1, 5, 100]) {
        for (let e = 0; e < E; e++) {
          assert.ok(Math.abs(1 - scheduleSparsity('exponential', s, e, E) - d ** ((e + 1) / E)) < 1e-15);
          assert.ok(Math.abs(1 - scheduleSparsity('linear', s, e, E) - (1 - s * (e + 1) / E)) < 1e-15);
        }
        assert.equal(keptCount(10_000, scheduleSparsity('exponential', s, E - 1, E)), keptCount(10_000, s), `exponential final s=${s} E=${E}`);
        assert.equal(scheduleSparsity('linear', s, E - 1, E), s);
      }
    }
    assert.throws(() => scheduleSparsity('cubic' as 'linear', 0.5, 0, 2), /schedule/);
  });

  test('reference schedule: the paper\'s prune_loop prunes to s^((e+1)/E) at iteration e', () => {
    for (const s of [0.5, 0.9, 0.99]) {
      for (let e = 0; e < 100; e++) assert.equal(scheduleSparsity('exponential', s, e, 100, 'reference'), s ** ((e + 1) / 100));
      // At the first of 100 iterations that is 99.3 % (s = 0.5) to 99.99 % pruned: the documented inversion.
      assert.ok(scheduleSparsity('exponential', s, 0, 100, 'reference') > 0.993);
      assert.ok(scheduleSparsity('exponential', s, 0, 100, 'fixed') < 0.05);
    }
  });

  test('iterative pruning (fixed): each iteration at its density, pruned weights stay pruned, final count exact', () => {
    // grad_norm scores a pruned (zeroed) weight by its gradient, which is not zero, so only the
    // alive-mask rule keeps it pruned: a plain re-ranking would revive some.
    const model = smallModel();
    const prunable = prunableSet(model, 'fixed');
    const names = [...prunable];
    const total = model.namedParameters().filter(([n]) => prunable.has(n)).reduce((a, [, t]) => a + t.size, 0);
    const original = new Map(model.namedParameters().map(([n, t]) => [n, t.data.slice()]));
    const data = smallData(6, 1, 16);
    for (const schedule of ['exponential', 'linear'] as const) {
      const s = 0.9, E = 4;
      let prev: Set<string> | null = null;
      const seen: number[] = [];
      const params = new Map(model.namedParameters());
      const { masks } = iterativePrune(model, 'grad_norm', data, prunable, {
        sparsity: s, scope: 'global', iterations: E, schedule,
        onIteration: (e, se) => {
          assert.equal(se, scheduleSparsity(schedule, s, e, E));
          const zero = new Set<string>();
          for (const n of names) { const d = params.get(n)!.data; for (let i = 0; i < d.length; i++) if (d[i] === 0) zero.add(`${n}:${i}`); }
          assert.equal(total - zero.size, keptCount(total, se), `${schedule} iteration ${e}: kept count`);
          if (prev) for (const k of prev) assert.ok(zero.has(k), `${schedule} iteration ${e}: ${k} was revived`);
          prev = zero;
          seen.push(e);
        },
      });
      assert.deepEqual(seen, [0, 1, 2, 3]);
      let k = 0;
      for (const n of names) k += kept(masks.get(n)!);
      assert.equal(k, keptCount(total, s), `${schedule}: final kept count`);
      for (const [n, t] of model.namedParameters()) assert.deepEqual(t.data, original.get(n), `${n}: weights restored after iterative pruning`);
    }
  });

  test('iterative pruning (reference SynFlow loop): the first iteration already prunes s^(1/E)', () => {
    const model = createModel('resnet20', { width: 0.25, imageSize: 8, seed: 1 });
    const prunable = prunableSet(model, 'reference');
    const got: number[] = [];
    iterativePrune(model, 'synflow', null, prunable, {
      sparsity: 0.5, scope: 'global', iterations: 10, schedule: 'exponential', semantics: 'reference', inputShape: [3, 8, 8],
      onIteration: (_e, se) => got.push(se),
    });
    assert.deepEqual(got, Array.from({ length: 10 }, (_, e) => 0.5 ** ((e + 1) / 10)));
  });

  test('iterations and sparsity are validated', () => {
    const model = smallModel();
    const prunable = prunableSet(model);
    const o = { sparsity: 0.5, scope: 'global' as const, iterations: 0, schedule: 'linear' as const, inputShape: [1, 16, 16] };
    assert.throws(() => iterativePrune(model, 'magnitude', null, prunable, o), /iterations/);
    assert.throws(() => iterativePrune(model, 'magnitude', null, prunable, { ...o, iterations: 2, sparsity: 1 }), /\[0, 1\)/);
  });
});

describe('reference vs fixed: exactly the documented differences', () => {
  test('prunable set: the shortcut BN weight is prunable in reference only (resnet18, resnet20); vgg agrees', () => {
    const cases: [string, Record<string, number>, string[]][] = [
      ['resnet18', { width: 1 / 16 }, ['layer2.0.shortcut.1.weight', 'layer3.0.shortcut.1.weight', 'layer4.0.shortcut.1.weight']],
      ['resnet20', { width: 0.25, imageSize: 8 }, ['blocks.3.shortcut.1.weight', 'blocks.6.shortcut.1.weight']],
      ['vgg11', { width: 0.125 }, []],
    ];
    for (const [name, o, extra] of cases) {
      const m = createModel(name, o);
      const fixed = prunableSet(m, 'fixed'), ref = prunableSet(m, 'reference');
      assert.deepEqual([...ref].filter((n) => !fixed.has(n)), extra, `${name}: reference-only`);
      assert.deepEqual([...fixed].filter((n) => !ref.has(n)), [], `${name}: fixed-only`);
      for (const n of fixed) assert.ok(n.endsWith('weight') && !n.includes('bias') && !n.includes('bn'), `${name}: ${n}`);
      // Neither rule prunes a bias, a norm (other than those shortcut γ) or the classifier.
      for (const [n, t] of m.namedParameters()) {
        if (n.endsWith('bias') || n.startsWith(`${m.classifierName}.`)) { assert.ok(!fixed.has(n) && !ref.has(n), `${name}: ${n}`); continue; }
        if (t.ndim === 1) assert.ok(!fixed.has(n), `${name}: fixed prunes no 1-d ${n}`);
      }
    }
  });

  test('criterion defaults differ only for GraSP: T = 1 in reference, 200 in fixed', () => {
    for (const c of criteria()) {
      const f = resolveCriterionOptions(c.name, { semantics: 'fixed' });
      const r = resolveCriterionOptions(c.name, { semantics: 'reference' });
      if (c.name === 'grasp') {
        assert.deepEqual([f.temperature, r.temperature], [200, 1]);
        assert.equal(f.probes, r.probes);
      } else {
        assert.deepEqual(f, r, c.name);
      }
    }
    const hd = resolveCriterionOptions('hutch_diag', {});
    assert.deepEqual(hd, { temperature: 200, probes: 10, sharedProbes: false });
    assert.deepEqual(resolveCriterionOptions('hts', {}), { temperature: 200, probes: 10, sharedProbes: false, taylorForm: 'paper' });
    assert.deepEqual(resolveCriterionOptions('magnitude', { temperature: 5 }), {}, 'options a criterion does not read are ignored');
    assert.throws(() => resolveCriterionOptions('hts', { taylorForm: 'other' as never }), /taylorForm must be one of paper, removal/);
    assert.throws(() => resolveCriterionOptions('snip', { temperature: -1 }), /temperature must be a positive number/);
    assert.equal(resolveCriterionOptions('ggn_diag', {}).temperature, 200);
    assert.equal(resolveCriterionOptions('snip', {}).temperature, 1);
  });

  test('GraSP: reference scores are −(fixed scores over every parameter) at the same T; every other criterion ignores semantics', () => {
    const model = smallModel();
    const data = smallData(4, 1, 16);
    // fixed takes g and Hg over the prunable set; over every parameter it is the reference's sum.
    const every = model.namedParameters().map(([n]) => n);
    const f = scoreParameters(model, 'grasp', data, { semantics: 'fixed', temperature: 1, prunable: every });
    const r = scoreParameters(model, 'grasp', data, { semantics: 'reference', temperature: 1 });
    let total = 0;
    for (const t of r.values()) for (let i = 0; i < t.size; i++) total += t.data[i]!;
    // The reference divides by |Σ| exactly, the fixed code by |Σ| + 1e-10.
    assert.ok(Math.abs(Math.abs(total) - 1) < 1e-4, `reference GraSP sums to ±1: ${total}`);
    for (const [n, t] of f) {
      const rt = r.get(n)!;
      for (let i = 0; i < t.size; i++) assert.ok(Math.abs(rt.data[i]! + t.data[i]!) <= 1e-5 * Math.abs(t.data[i]!) + 1e-12, `${n}[${i}]: ${rt.data[i]} vs −${t.data[i]}`);
    }
    for (const c of criteria()) {
      if (c.name === 'grasp') continue;
      const o = { temperature: 7, probes: 2, seed: 4, inputShape: [1, 16, 16] };
      const a = scoreParameters(model, c.name, data, { ...o, semantics: 'fixed' });
      const b = scoreParameters(model, c.name, data, { ...o, semantics: 'reference' });
      for (const [n, t] of a) assert.deepEqual(b.get(n)!.data, t.data, `${c.name} ${n}`);
    }
  });

  test('masks from the same scores differ between semantics only through the prunable set', () => {
    const model = createModel('resnet20', { width: 0.25, imageSize: 8, seed: 1 });
    const scores = scoreParameters(model, 'magnitude', null, { inputShape: [3, 8, 8] });
    const fixed = prunableSet(model, 'fixed'), ref = prunableSet(model, 'reference');
    const mf = makeMasks(scores, fixed, 0.9, 'layer'), mr = makeMasks(scores, ref, 0.9, 'layer');
    for (const [n, m] of mf) {
      if (ref.has(n) && !fixed.has(n)) { assert.ok(ones(m)); assert.equal(kept(mr.get(n)!), keptCount(m.size, 0.9)); }
      else assert.deepEqual(mr.get(n)!.data, m.data, n);
    }
  });
});

describe('selectRank: the k-th smallest value without a sort', () => {
  test('agrees with a sort on random arrays full of ties and infinities, at every rank', () => {
    const g = new Generator(11, 'select-rank');
    for (let t = 0; t < 300; t++) {
      const n = 1 + Math.floor(g.uniform() * 80);
      const distinct = 1 + Math.floor(g.uniform() * 6);
      const a = Float64Array.from({ length: n }, () => {
        const u = g.uniform();
        return u < 0.1 ? -Infinity : u > 0.95 ? Infinity : Math.floor(g.uniform() * distinct) - 2;
      });
      const sorted = Float64Array.from(a).sort();
      for (let r = 0; r < n; r++) assert.equal(selectRank(Float64Array.from(a), r), sorted[r], `n=${n} rank ${r}: ${Array.from(a).join(',')}`);
    }
  });

  test('large inputs: sorted, reversed, constant and random give the sorted answer', () => {
    const n = 100_003;
    const g = new Generator(12, 'select-rank-large');
    const cases: [string, Float64Array][] = [
      ['ascending', Float64Array.from({ length: n }, (_, i) => i)],
      ['descending', Float64Array.from({ length: n }, (_, i) => n - i)],
      ['constant', new Float64Array(n).fill(3)],
      ['random', Float64Array.from({ length: n }, () => g.uniform())],
      ['two values', Float64Array.from({ length: n }, (_, i) => i % 2)],
    ];
    for (const [what, a] of cases) {
      const sorted = Float64Array.from(a).sort();
      for (const r of [0, 1, n >> 1, n - 2, n - 1, 12_345]) assert.equal(selectRank(Float64Array.from(a), r), sorted[r], `${what} rank ${r}`);
    }
  });
});
