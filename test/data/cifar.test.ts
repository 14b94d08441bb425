import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import * as tar from 'tar';
import { DataError } from '../../src/data/dataset.js';
import { loadCifar10, loadCifar100 } from '../../src/data/readers/cifar.js';
import { cifarRecords, throwsData, tmp, write } from './fixtures.js';

/** A CIFAR-10 folder whose batch k holds 2 records labelled k and k+5, and a 3-record test batch. */
function writeCifar10(dir: string): void {
  for (let k = 1; k <= 5; k++) write(join(dir, 'cifar-10-batches-bin', `data_batch_${k}.bin`), cifarRecords([[k - 1], [k + 4]]));
  write(join(dir, 'cifar-10-batches-bin', 'test_batch.bin'), cifarRecords([[0], [1], [9]]));
  write(join(dir, 'cifar-10-batches-bin', 'batches.meta.txt'), 'airplane\n');
}

function writeCifar100(dir: string): void {
  write(join(dir, 'cifar-100-binary', 'train.bin'), cifarRecords([[3, 99], [19, 0], [0, 42]]));
  write(join(dir, 'cifar-100-binary', 'test.bin'), cifarRecords([[1, 7]]));
  write(join(dir, 'cifar-100-binary', 'fine_label_names.txt'), Array.from({ length: 100 }, (_, i) => `fine${i}`).join('\n') + '\n');
}

test('cifar10: reads the extracted batches in order', (t) => {
  const dir = tmp(t);
  writeCifar10(dir);
  const train = loadCifar10('train', { dataDir: dir });
  assert.equal(train.length, 10);
  assert.deepEqual(train.shape, [3, 32, 32]);
  assert.deepEqual([...train.labels()], [0, 5, 1, 6, 2, 7, 3, 8, 4, 9]);
  const s = train.get(3);
  assert.equal(s.label, 6);
  assert.equal(s.pixels.length, 3072);
  // Record 1 of its batch: pixel j is (1 + j) & 255, channel-major as stored.
  assert.equal(s.pixels[0], 1);
  assert.equal(s.pixels[1024], (1 + 1024) & 255);
  assert.equal(train.classNames?.[0], 'airplane');
  const test_ = loadCifar10('test', { dataDir: join(dir, 'cifar-10-batches-bin') });
  assert.deepEqual([...test_.labels()], [0, 1, 9]);
});

test('cifar10 and cifar100: read straight from the .tar.gz archive', (t) => {
  const dir = tmp(t);
  writeCifar10(dir);
  writeCifar100(dir);
  tar.c({ gzip: true, file: join(dir, 'cifar-10-binary.tar.gz'), cwd: dir, sync: true }, ['cifar-10-batches-bin']);
  tar.c({ gzip: true, file: join(dir, 'cifar-100-binary.tar.gz'), cwd: dir, sync: true }, ['cifar-100-binary']);
  const fromFolder = loadCifar10('train', { dataDir: dir });
  rmSync(join(dir, 'cifar-10-batches-bin'), { recursive: true });
  rmSync(join(dir, 'cifar-100-binary'), { recursive: true });
  const fromArchive = loadCifar10('train', { dataDir: dir });
  assert.deepEqual(fromArchive.labels(), fromFolder.labels());
  assert.deepEqual(fromArchive.data, fromFolder.data);
  assert.deepEqual([...loadCifar100('train', { dataDir: dir }).labels()], [99, 0, 42]);
});

test('cifar100: fine labels by default, coarse on request, names from the folder', (t) => {
  const dir = tmp(t);
  writeCifar100(dir);
  const fine = loadCifar100('train', { dataDir: dir });
  assert.equal(fine.numClasses, 100);
  assert.deepEqual([...fine.labels()], [99, 0, 42]);
  assert.equal(fine.classNames?.[42], 'fine42');
  assert.equal(fine.get(2).pixels[5], 2 + 5);
  const coarse = loadCifar100('train', { dataDir: dir, coarse: true });
  assert.equal(coarse.numClasses, 20);
  assert.equal(coarse.name, 'cifar100/train-coarse');
  assert.deepEqual([...coarse.labels()], [3, 19, 0]);
  assert.equal(loadCifar100('test', { dataDir: dir }).length, 1);
});

test('cifar: a truncated file names the file and the record size', (t) => {
  const dir = tmp(t);
  writeCifar10(dir);
  const f = join(dir, 'cifar-10-batches-bin', 'test_batch.bin');
  write(f, readFileSync(f).subarray(0, 3073 * 2 + 100));
  throwsData(() => loadCifar10('test', { dataDir: dir }), f, /not a multiple of the 3073-byte record/);
  write(f, new Uint8Array(0));
  throwsData(() => loadCifar10('test', { dataDir: dir }), f, /empty file/);
});

test('cifar: labels out of range name the file and the record', (t) => {
  const dir = tmp(t);
  writeCifar10(dir);
  const f = join(dir, 'cifar-10-batches-bin', 'data_batch_4.bin');
  write(f, cifarRecords([[2], [10]]));
  throwsData(() => loadCifar10('train', { dataDir: dir }), f, /record 1 has label 10, outside 0\.\.9/);
  const g = join(dir, 'cifar-100-binary', 'test.bin');
  write(g, cifarRecords([[20, 5]]));
  throwsData(() => loadCifar100('test', { dataDir: dir, coarse: true }), g, /label 20, outside 0\.\.19/);
});

test('cifar: missing folders, missing batches and broken archives', (t) => {
  const dir = tmp(t);
  assert.throws(() => loadCifar10('train', { dataDir: dir }), (e: unknown) => {
    assert.ok(e instanceof DataError);
    assert.match(e.message, /Place cifar-10-binary\.tar\.gz .* in .*\/, or extract it there so that .*cifar-10-batches-bin\/data_batch_1\.bin exists/);
    assert.ok(e.message.includes(dir));
    return true;
  });
  write(join(dir, 'cifar-10-batches-bin', 'data_batch_1.bin'), cifarRecords([[1]]));
  throwsData(() => loadCifar10('train', { dataDir: dir }), join(dir, 'cifar-10-batches-bin'), /missing data_batch_2\.bin, .*data_batch_5\.bin/);

  const other = tmp(t);
  writeCifar100(other);
  rmSync(join(other, 'cifar-100-binary', 'test.bin'));
  tar.c({ gzip: true, file: join(other, 'cifar-100-binary.tar.gz'), cwd: other, sync: true }, ['cifar-100-binary']);
  rmSync(join(other, 'cifar-100-binary'), { recursive: true });
  const archive = join(other, 'cifar-100-binary.tar.gz');
  throwsData(() => loadCifar100('test', { dataDir: other }), archive, /no member cifar-100-binary\/test\.bin/);
  const bytes = readFileSync(archive);
  write(archive, bytes.subarray(0, bytes.length >> 1));
  throwsData(() => loadCifar100('train', { dataDir: other }), archive, /corrupt or truncated archive/);
});
