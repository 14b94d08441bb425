import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { DataError } from '../../src/data/dataset.js';
import { loadImageNet } from '../../src/data/readers/imagenet.js';
import { colourJpeg, grayJpeg, tmp, write } from './fixtures.js';

test('imagenet: folder layout, variable sizes, decode on get', (t) => {
  const dir = tmp(t);
  const root = join(dir, 'imagenet');
  write(join(root, 'train', 'n01440764', 'n01440764_10026.JPEG'), colourJpeg(40, 24));
  write(join(root, 'train', 'n01440764', 'n01440764_2.jpeg'), grayJpeg(2, 3));
  write(join(root, 'train', 'n01440764', 'README.txt'), 'not an image');
  write(join(root, 'train', 'n01443537', 'a.JPEG'), colourJpeg(17, 31));
  write(join(root, 'val', 'n01440764', 'ILSVRC2012_val_00000293.JPEG'), colourJpeg(8, 8));
  const train = loadImageNet('train', { dataDir: dir });
  assert.equal(train.length, 3);
  assert.equal(train.numClasses, 2);
  assert.equal(train.shape, null);
  assert.deepEqual(train.classNames, ['n01440764', 'n01443537']);
  assert.deepEqual([...train.labels()], [0, 0, 1]);
  assert.deepEqual(train.get(0).shape, [3, 24, 40]);
  assert.deepEqual(train.get(1).shape, [3, 24, 16]);
  assert.equal(train.get(1).pixels[2 * 24 * 16], 138);
  const s = train.get(2);
  assert.deepEqual(s.shape, [3, 31, 17]);
  assert.equal(s.label, 1);
  assert.equal(loadImageNet('val', { dataDir: root }).length, 1);
});

test('imagenet: a bad JPEG and missing folders are named', (t) => {
  const dir = tmp(t);
  const bad = write(join(dir, 'train', 'n1', 'x.JPEG'), colourJpeg(16, 16).subarray(0, 200));
  const ds = loadImageNet('train', { dataDir: dir });
  assert.throws(() => ds.get(0), (e: unknown) => e instanceof DataError && e.message.includes(bad) && /does not decode/.test(e.message));
  assert.throws(() => loadImageNet('val', { dataDir: dir }), (e: unknown) => {
    assert.ok(e instanceof DataError);
    assert.match(e.message, /Place it as .*imagenet\/val\/<wnid>\/\*\.JPEG/);
    return true;
  });
  write(join(dir, 'empty', 'val', 'n1', 'notes.txt'), '');
  assert.throws(() => loadImageNet('val', { dataDir: join(dir, 'empty') }), /no \.JPEG files/);
});
