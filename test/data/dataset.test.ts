import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataError, InMemoryDataset, SubsetDataset } from '../../src/data/dataset.js';

function tiny(): InMemoryDataset {
  const px = Uint8Array.from({ length: 4 * 2 * 2 }, (_, i) => i);
  return new InMemoryDataset('tiny/train', px, Int32Array.from([0, 1, 2, 1]), [1, 2, 2], { numClasses: 3, classNames: ['a', 'b', 'c'] });
}

test('InMemoryDataset: items, labels and copies', () => {
  const ds = tiny();
  assert.equal(ds.length, 4);
  assert.equal(ds.numClasses, 3);
  assert.deepEqual(ds.shape, [1, 2, 2]);
  const s = ds.get(2);
  assert.deepEqual([...s.pixels], [8, 9, 10, 11]);
  assert.equal(s.label, 2);
  s.pixels[0] = 255;
  assert.equal(ds.get(2).pixels[0], 8, 'a sample is a copy');
  assert.deepEqual([...ds.labels()], [0, 1, 2, 1]);
  assert.throws(() => ds.get(4), RangeError);
  assert.throws(() => ds.get(-1), RangeError);
  assert.throws(() => ds.get(1.5), RangeError);
});

test('InMemoryDataset: refuses inconsistent input', () => {
  assert.throws(() => new InMemoryDataset('x', new Uint8Array(7), Int32Array.from([0, 1]), [1, 2, 2]), /pixel bytes/);
  assert.throws(() => new InMemoryDataset('x', new Uint8Array(8), Int32Array.from([0, 3]), [1, 2, 2], { numClasses: 3 }), /label 3/);
  assert.throws(() => new InMemoryDataset('x', new Uint8Array(8), Int32Array.from([0, -1]), [1, 2, 2]), /negative/);
  assert.equal(new InMemoryDataset('x', new Uint8Array(8), Int32Array.from([0, 4]), [1, 2, 2]).numClasses, 5);
});

test('SubsetDataset: picks items in order and checks indices', () => {
  const ds = tiny();
  const sub = new SubsetDataset(ds, Int32Array.from([3, 0, 3]));
  assert.equal(sub.length, 3);
  assert.equal(sub.numClasses, 3);
  assert.deepEqual(sub.classNames, ['a', 'b', 'c']);
  assert.deepEqual([...sub.labels()], [1, 0, 1]);
  assert.deepEqual([...sub.get(1).pixels], [0, 1, 2, 3]);
  assert.throws(() => new SubsetDataset(ds, Int32Array.from([4])), RangeError);
  assert.throws(() => sub.get(3), RangeError);
});

test('DataError carries the file', () => {
  const e = new DataError('/x/y: bad', { file: '/x/y' });
  assert.ok(e instanceof Error);
  assert.equal(e.name, 'DataError');
  assert.equal(e.file, '/x/y');
});
