import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { DataError } from '../../src/data/dataset.js';
import { loadFashionMnist, loadIdxPair, loadMnist, parseIdx } from '../../src/data/readers/idx.js';
import { fullFashionMnistDir, idxBytes, idxPair, throwsData, tmp, write, writeIdxSplit } from './fixtures.js';

const opts = { name: 'mini', numClasses: 10 };

test('idx: reads a gzip pair in the real format', (t) => {
  const dir = tmp(t);
  const p = writeIdxSplit(dir, 'train', 13);
  const ds = loadMnist('train', { dataDir: dir });
  assert.equal(ds.name, 'mnist/train');
  assert.equal(ds.length, 13);
  assert.deepEqual(ds.shape, [1, 28, 28]);
  assert.deepEqual([...ds.labels()], p.labelValues);
  const s = ds.get(5);
  assert.equal(s.label, 5);
  assert.deepEqual([...s.pixels], [...p.pixels.subarray(5 * 784, 6 * 784)]);
});

test('idx: reads uncompressed files and the <dataDir>/fashion-mnist layout', (t) => {
  const dir = tmp(t);
  const p = idxPair(4);
  write(join(dir, 'fashion-mnist', 't10k-images-idx3-ubyte'), p.images);
  write(join(dir, 'fashion-mnist', 't10k-labels-idx1-ubyte'), p.labels);
  const ds = loadFashionMnist('test', { dataDir: dir, verify: false });
  assert.equal(ds.length, 4);
  assert.equal(ds.classNames?.[9], 'Ankle boot');
});

test('idx: wrong magic number names the file', (t) => {
  const dir = tmp(t);
  const p = idxPair(3);
  const images = write(join(dir, 'i.gz'), gzipSync(p.images));
  const labels = write(join(dir, 'l.gz'), gzipSync(p.labels));
  throwsData(() => loadIdxPair(labels, labels, opts), labels, /wrong magic number 2049.*expected 2051/);
  throwsData(() => loadIdxPair(images, images, opts), images, /wrong magic number 2051.*expected 2049/);
});

test('idx: truncated payload and trailing bytes name the file', (t) => {
  const dir = tmp(t);
  const p = idxPair(3);
  const labels = write(join(dir, 'l.gz'), gzipSync(p.labels));
  const short = write(join(dir, 'short.gz'), gzipSync(p.images.subarray(0, p.images.length - 10)));
  throwsData(() => loadIdxPair(short, labels, opts), short, /truncated/);
  const long = write(join(dir, 'long.gz'), gzipSync(Buffer.concat([p.images, Buffer.alloc(5)])));
  throwsData(() => loadIdxPair(long, labels, opts), long, /5 unexpected trailing bytes/);
  throwsData(() => parseIdx(new Uint8Array([0, 0, 8, 3, 0, 0]), 'hdr', 2051), 'hdr', /truncated IDX header/);
});

test('idx: corrupt and truncated gzip name the file', (t) => {
  const dir = tmp(t);
  const p = idxPair(30);
  const labels = write(join(dir, 'l.gz'), gzipSync(p.labels));
  const gz = gzipSync(p.images);
  const cut = write(join(dir, 'cut.gz'), gz.subarray(0, gz.length >> 1));
  throwsData(() => loadIdxPair(cut, labels, opts), cut, /corrupt or truncated gzip/);
  const bad = Buffer.from(gz);
  for (let i = 20; i < 60; i++) bad[i] = 0xff;
  const corrupt = write(join(dir, 'corrupt.gz'), bad);
  throwsData(() => loadIdxPair(corrupt, labels, opts), corrupt, /corrupt or truncated gzip/);
});

test('idx: labels out of range and count mismatch name the label file', (t) => {
  const dir = tmp(t);
  const p = idxPair(3);
  const images = write(join(dir, 'i.gz'), gzipSync(p.images));
  const badLabels = write(join(dir, 'bad.gz'), gzipSync(idxBytes(2049, [3], Uint8Array.from([0, 10, 1]))));
  throwsData(() => loadIdxPair(images, badLabels, opts), badLabels, /label 10 at index 1 is outside 0\.\.9/);
  const fewer = write(join(dir, 'fewer.gz'), gzipSync(idxBytes(2049, [2], Uint8Array.from([0, 1]))));
  throwsData(() => loadIdxPair(images, fewer, opts), fewer, /2 labels for the 3 images/);
});

test('idx: a missing folder says which files to place where', (t) => {
  const dir = tmp(t);
  assert.throws(() => loadMnist('train', { dataDir: join(dir, 'nowhere') }), (e: unknown) => {
    assert.ok(e instanceof DataError);
    assert.match(e.message, /train-images-idx3-ubyte\.gz and train-labels-idx1-ubyte\.gz/);
    assert.ok(e.message.includes(join(dir, 'nowhere', 'mnist')), e.message);
    return true;
  });
  const missingLabels = tmp(t);
  write(join(missingLabels, 't10k-images-idx3-ubyte.gz'), gzipSync(idxPair(2).images));
  assert.throws(() => loadMnist('test', { dataDir: missingLabels }), /t10k-labels-idx1-ubyte\.gz/);
});

test('idx: Fashion-MNIST checksums catch a file that is not the official one', (t) => {
  const dir = tmp(t);
  writeIdxSplit(dir, 'test', 5);
  throwsData(() => loadFashionMnist('test', { dataDir: dir }), join(dir, 't10k-images-idx3-ubyte.gz'), /SHA-256 .* expected 5b4141f0/);
  assert.equal(loadFashionMnist('test', { dataDir: dir, verify: false }).length, 5);
});

const full = fullFashionMnistDir();
test('idx: the full Fashion-MNIST (60,000 + 10,000, balanced, checksums verified)', { skip: full ? false : 'full Fashion-MNIST not found in /usr/share/datasets/fashion-mnist or ../shared/datasets/fashion-mnist' }, () => {
  for (const [split, n] of [['train', 60000], ['test', 10000]] as const) {
    const ds = loadFashionMnist(split, { dataDir: full! });
    assert.equal(ds.length, n);
    assert.deepEqual(ds.shape, [1, 28, 28]);
    assert.equal(ds.numClasses, 10);
    const counts = new Array(10).fill(0);
    for (const l of ds.labels()) counts[l]++;
    assert.deepEqual(counts, new Array(10).fill(n / 10));
  }
});
