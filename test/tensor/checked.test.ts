// The checked reads that stand in for non-null assertions (src/tensor/checked.ts) and the shape
// tuples of src/tensor/shape.ts: each returns what is there and names what is not.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { at, defined, hasLength, isNonEmpty, last, swap, zip } from '../../src/tensor/checked.js';
import { hasMinRank, hasRank, normAxes, normAxis, shapeMin, shapeN, ShapeError, stridesOf } from '../../src/tensor/shape.js';
import { Sequential, ReLU } from '../../src/nn/layers.js';

test('defined returns a present value and names a missing one', () => {
  assert.equal(defined(0, 'zero'), 0);
  assert.equal(defined('', 'empty'), '');
  assert.throws(() => defined(undefined, 'the thing'), /internal: the thing is missing/);
  assert.throws(() => defined(null, 'the thing'), /internal: the thing is missing/);
});

test('at, last and swap read inside the array and name the array outside it', () => {
  const a = Float32Array.of(1, 2, 3);
  assert.equal(at(a, 0, 'a'), 1);
  assert.equal(last(a, 'a'), 3);
  assert.throws(() => at(a, 3, 'the values'), /the values: index 3 is outside \[0, 3\)/);
  assert.throws(() => at(a, -1, 'the values'), RangeError);
  assert.throws(() => last([], 'nothing'), /nothing: index -1/);
  swap(a, 0, 2, 'a');
  assert.deepEqual([...a], [3, 2, 1]);
  assert.throws(() => swap(a, 0, 5, 'a'), RangeError);
  assert.deepEqual([...a], [3, 2, 1], 'a refused swap leaves the array as it was');
});

test('zip pairs arrays of one length and refuses others', () => {
  assert.deepEqual(zip(['a', 'b'], [1, 2], 'names and values'), [['a', 1], ['b', 2]]);
  assert.deepEqual(zip([], [], 'none'), []);
  assert.throws(() => zip(['a'], [1, 2], 'names and values'), /names and values: 1 against 2 entries/);
});

test('hasLength and isNonEmpty narrow by length', () => {
  const v: number[] = [4, 5];
  assert.ok(hasLength(v, 2));
  assert.ok(!hasLength(v, 3));
  assert.ok(isNonEmpty(v));
  assert.ok(!isNonEmpty([]));
});

test('shapeN and shapeMin give shapes of known rank as tuples, or a ShapeError naming the op', () => {
  const [n, c, h, w] = shapeN('conv', [2, 3, 4, 5], 4);
  assert.deepEqual([n, c, h, w], [2, 3, 4, 5]);
  assert.throws(() => shapeN('conv', [2, 3], 4, 'weight'), (e: unknown) => e instanceof ShapeError && /conv: weight must have rank 4, got shape \[2, 3\]/.test(e.message));
  assert.deepEqual([...shapeMin('batch_norm', [8, 16, 2, 2], 2)].slice(0, 2), [8, 16]);
  assert.throws(() => shapeMin('batch_norm', [8], 2), /batch_norm: input must have at least 2 axes, got shape \[8\]/);
  assert.throws(() => shapeMin('mask data', [], 1, 'images'), /mask data: images must have at least 1 axis/);
  assert.ok(hasRank([1, 2], 2) && !hasRank([1, 2], 3));
  assert.ok(hasMinRank([1, 2, 3], 2) && !hasMinRank([1], 2));
});

test('normAxis, normAxes and stridesOf keep their results', () => {
  assert.equal(normAxis('sum', -1, 3), 2);
  assert.equal(normAxis('sum', 0, 0), 0);
  assert.throws(() => normAxis('sum', 3, 3), /sum: axis 3 is out of range for a tensor of rank 3/);
  assert.throws(() => normAxis('sum', 0.5, 3), ShapeError);
  assert.deepEqual(normAxes('sum', [2, -3, 0], 3), [0, 2]);
  assert.deepEqual(stridesOf([2, 3, 4]), [12, 4, 1]);
  assert.deepEqual(stridesOf([]), []);
  assert.deepEqual(stridesOf([3, 0, 2]), [0, 2, 1]);
});

test('Sequential.at names an index outside its layers', () => {
  const s = new Sequential().append(new ReLU());
  assert.ok(s.at(0) instanceof ReLU);
  assert.throws(() => s.at(1), /Sequential\.at\(1\): there are 1 layers/);
});
