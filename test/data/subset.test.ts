import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Generator } from '../../src/tensor/random.js';
import { DataError, type Dataset } from '../../src/data/dataset.js';
import { maskSubset, stratifiedSplit } from '../../src/data/subset.js';

/** Labels with deliberately unequal class sizes and an interleaved order. */
function unevenLabels(): Int32Array {
  const out: number[] = [];
  for (let i = 0; i < 1000; i++) out.push((i * 7 + Math.floor(i / 13)) % 10 === 9 && i % 3 ? 3 : (i * 7 + Math.floor(i / 13)) % 10);
  return Int32Array.from(out);
}

function labelsOnly(labels: Int32Array, numClasses = 10): Dataset {
  return {
    name: 'labels', length: labels.length, numClasses, shape: [1, 1, 1],
    get: (i: number) => ({ pixels: new Uint8Array(1), shape: [1, 1, 1] as const, label: labels[i]! }),
    labels: () => labels.slice(),
  };
}

test('mask subset: k distinct images of each class, class-major, deterministic per seed', () => {
  const labels = unevenLabels();
  const ds = labelsOnly(labels);
  const a = maskSubset(ds, { perClass: 10, gen: new Generator(7) });
  assert.equal(a.length, 100);
  assert.equal(new Set(a).size, 100);
  for (let c = 0; c < 10; c++) for (let t = 0; t < 10; t++) assert.equal(labels[a[c * 10 + t]!], c);
  assert.deepEqual(maskSubset(ds, { gen: new Generator(7) }), a, 'perClass defaults to 10, same seed same subset');
  const b = maskSubset(ds, { perClass: 10, gen: new Generator(8) });
  assert.notDeepEqual(b, a);
  // Drawn, not the first k: the picks of class 0 are not just its lowest indices.
  const firstOfClass0 = Array.from(labels.keys()).filter((i) => labels[i] === 0).slice(0, 10);
  assert.notDeepEqual(Array.from(a.subarray(0, 10)), firstOfClass0);
  // Independent of draws elsewhere on the generator.
  const g = new Generator(7);
  g.stream('data-order/epoch-0').permutation(50);
  g.uniform();
  assert.deepEqual(maskSubset(ds, { gen: g }), a);
  // One per class works; a class that is too small is an error naming it.
  assert.equal(maskSubset(ds, { perClass: 1, gen: new Generator(1) }).length, 10);
  const small = Int32Array.from([0, 0, 0, 1, 1, 2, 2, 2]);
  assert.throws(() => maskSubset(labelsOnly(small, 3), { perClass: 3, gen: new Generator(0) }), (e: unknown) => e instanceof DataError && /class 1 has 2 images/.test(e.message));
  assert.throws(() => maskSubset(labelsOnly(small, 4), { perClass: 1, gen: new Generator(0) }), /class 3 has 0 images/);
});

test('stratified split: per-class fractions, disjoint, covering, sorted, deterministic', () => {
  const labels = unevenLabels();
  const { train, val } = stratifiedSplit(labels, 0.1, new Generator(3));
  assert.equal(train.length + val.length, labels.length);
  const all = new Set([...train, ...val]);
  assert.equal(all.size, labels.length, 'disjoint and covering');
  for (const part of [train, val]) for (let i = 1; i < part.length; i++) assert.ok(part[i]! > part[i - 1]!);
  const count = (idx: Int32Array | number[], c: number) => Array.from(idx).filter((i) => labels[i] === c).length;
  const everything = Array.from(labels.keys());
  for (let c = 0; c < 10; c++) assert.equal(count(val, c), Math.round(0.1 * count(everything, c)), `class ${c}`);
  const again = stratifiedSplit(labels, 0.1, new Generator(3));
  assert.deepEqual(again.val, val);
  assert.deepEqual(again.train, train);
  assert.notDeepEqual(stratifiedSplit(labels, 0.1, new Generator(4)).val, val);
  assert.equal(stratifiedSplit(labels, 0, new Generator(3)).val.length, 0);
  assert.equal(stratifiedSplit(labels, 1, new Generator(3)).train.length, 0);
  assert.throws(() => stratifiedSplit(labels, 1.5, new Generator(3)), /valFraction/);
});
