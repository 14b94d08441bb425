import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { DataError } from '../../src/data/dataset.js';
import { loadTinyImageNet } from '../../src/data/readers/tinyimagenet.js';
import { colourJpeg, throwsData, tinyImageNetFiles, tmp, write, writeTree } from './fixtures.js';

test('tinyimagenet: train and val splits, sorted wnids, lazy decoding', (t) => {
  const dir = tmp(t);
  writeTree(dir, tinyImageNetFiles());
  const train = loadTinyImageNet('train', { dataDir: dir });
  assert.equal(train.length, 4);
  assert.equal(train.numClasses, 2);
  assert.deepEqual(train.shape, [3, 64, 64]);
  assert.deepEqual(train.classNames, ['goldfish, Carassius auratus', 'something']);
  assert.deepEqual([...train.labels()], [0, 0, 1, 1]);
  const s = train.get(0);
  assert.deepEqual(s.shape, [3, 64, 64]);
  assert.equal(s.pixels.length, 3 * 64 * 64);
  // Red ramps along x, green is 10, blue ramps along y (JPEG is lossy: allow a little).
  const px = (c: number, y: number, x: number) => s.pixels[c * 4096 + y * 64 + x]!;
  assert.ok(Math.abs(px(0, 30, 0) - 0) <= 6 && Math.abs(px(0, 30, 63) - 255) <= 6, `red ${px(0, 30, 0)} ${px(0, 30, 63)}`);
  assert.ok(Math.abs(px(1, 20, 20) - 10) <= 6, `green ${px(1, 20, 20)}`);
  assert.ok(Math.abs(px(2, 63, 10) - 255) <= 6, `blue ${px(2, 63, 10)}`);

  const val = loadTinyImageNet('val', { dataDir: join(dir, 'tiny-imagenet-200') });
  assert.deepEqual([...val.labels()], [1, 0, 1]);
  assert.ok(Math.abs(val.get(1).pixels[4096 + 100]! - 30) <= 6);
});

test('tinyimagenet: a grayscale JPEG is expanded to three equal channels', (t) => {
  const dir = tmp(t);
  writeTree(dir, tinyImageNetFiles());
  const s = loadTinyImageNet('train', { dataDir: dir }).get(1);
  assert.deepEqual(s.shape, [3, 64, 64]);
  for (const i of [0, 1000, 4095]) {
    assert.equal(s.pixels[i], 138);
    assert.equal(s.pixels[4096 + i], 138);
    assert.equal(s.pixels[8192 + i], 138);
  }
});

test('tinyimagenet: a JPEG that does not decode names the file', (t) => {
  const dir = tmp(t);
  writeTree(dir, tinyImageNetFiles());
  const f = join(dir, 'tiny-imagenet-200', 'train', 'n09999999', 'images', 'n09999999_1.JPEG');
  const bytes = readFileSync(f);
  write(f, bytes.subarray(0, bytes.length >> 1));
  const ds = loadTinyImageNet('train', { dataDir: dir });
  ds.get(2);
  throwsData(() => ds.get(3), f, /JPEG does not decode/);
  write(f, Buffer.from('GIF89a not a jpeg'));
  throwsData(() => ds.get(3), f, /not a JPEG file/);
  write(f, colourJpeg(32, 64));
  throwsData(() => ds.get(3), f, /32x64, expected 64x64/);
});

test('tinyimagenet: missing folders and files are named', (t) => {
  const dir = tmp(t);
  assert.throws(() => loadTinyImageNet('train', { dataDir: dir }), (e: unknown) => {
    assert.ok(e instanceof DataError);
    assert.match(e.message, /Extract tiny-imagenet-200\.zip .* so that .*tiny-imagenet-200\/wnids\.txt exists/);
    return true;
  });
  writeTree(dir, tinyImageNetFiles());
  const root = join(dir, 'tiny-imagenet-200');
  rmSync(join(root, 'train', 'n09999999'), { recursive: true });
  throwsData(() => loadTinyImageNet('train', { dataDir: dir }), join(root, 'train', 'n09999999', 'images'), /folder not found/);
  rmSync(join(root, 'val', 'val_annotations.txt'));
  throwsData(() => loadTinyImageNet('val', { dataDir: dir }), join(root, 'val', 'val_annotations.txt'), /file not found/);
  write(join(root, 'val', 'val_annotations.txt'), 'val_0.JPEG\tn12345678\t0\t0\t1\t1\n');
  throwsData(() => loadTinyImageNet('val', { dataDir: dir }), join(root, 'val', 'val_annotations.txt'), /line 1/);
  rmSync(join(root, 'wnids.txt'));
  throwsData(() => loadTinyImageNet('val', { dataDir: dir }), join(root, 'wnids.txt'), /incomplete extraction/);
});
