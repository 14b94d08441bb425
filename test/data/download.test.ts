import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import * as tar from 'tar';
import { DataError } from '../../src/data/dataset.js';
import { downloadDataset, type Progress } from '../../src/data/download.js';
import { loadCifar10 } from '../../src/data/readers/cifar.js';
import { loadFashionMnist } from '../../src/data/readers/idx.js';
import { loadTinyImageNet } from '../../src/data/readers/tinyimagenet.js';
import { cifarRecords, idxPair, tinyImageNetFiles, tmp, write, zipBytes } from './fixtures.js';

interface Served { body: Buffer; dropAfter?: number; drops?: number; ignoreRange?: boolean }

/** A local server for `files`; a file with drops > 0 sends dropAfter bytes then cuts the connection. */
async function serve(t: { after: (fn: () => Promise<void> | void) => void }, files: Record<string, Served>):
  Promise<{ base: string; log: { path: string; range: string | undefined }[] }> {
  const log: { path: string; range: string | undefined }[] = [];
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').slice(1);
    const range = req.headers.range;
    log.push({ path, range });
    const f = files[path];
    if (!f) { res.writeHead(404).end(); return; }
    let body = f.body;
    const m = /^bytes=(\d+)-$/.exec(range ?? '');
    if (m && !f.ignoreRange) {
      const from = Number(m[1]);
      if (from >= body.length) {
        res.writeHead(416, { 'content-range': `bytes */${body.length}` }).end();
        return;
      }
      res.writeHead(206, { 'content-length': body.length - from, 'content-range': `bytes ${from}-${body.length - 1}/${body.length}` });
      body = body.subarray(from);
    } else {
      res.writeHead(200, { 'content-length': body.length });
    }
    if ((f.drops ?? 0) > 0) {
      f.drops!--;
      // A graceful close after the bytes are flushed: a reset could discard bytes still in flight,
      // which would make the resume point depend on timing.
      res.write(body.subarray(0, f.dropAfter ?? body.length >> 1), () => res.socket?.end());
      return;
    }
    res.end(body);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  t.after(() => new Promise<void>((ok) => { server.closeAllConnections(); server.close(() => ok()); }));
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, log };
}

const md5 = (b: Uint8Array) => createHash('md5').update(b).digest('hex');
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** A CIFAR-10 binary archive with 2 records per training batch and 3 test records. */
function miniCifar10(dir: string): Buffer {
  const src = join(dir, 'src');
  for (let k = 1; k <= 5; k++) write(join(src, 'cifar-10-batches-bin', `data_batch_${k}.bin`), cifarRecords([[k], [0]]));
  write(join(src, 'cifar-10-batches-bin', 'test_batch.bin'), cifarRecords([[7], [8], [9]]));
  write(join(src, 'cifar-10-batches-bin', 'batches.meta.txt'), 'airplane\n');
  // Enough incompressible bytes that the connection can be cut well inside the file.
  write(join(src, 'cifar-10-batches-bin', 'readme.html'), Buffer.from(Array.from({ length: 200000 }, (_, i) => (i * 2654435761) >>> 24)));
  tar.c({ gzip: true, file: join(dir, 'c10.tgz'), cwd: src, sync: true }, ['cifar-10-batches-bin']);
  return readFileSync(join(dir, 'c10.tgz'));
}

function leftovers(dir: string): string[] {
  return readdirSync(dir).filter((n) => n.startsWith('.') || n.endsWith('.part'));
}

test('download: CIFAR-10 archive fetched, verified, extracted atomically, progress reported', async (t) => {
  const dir = tmp(t);
  const archive = miniCifar10(dir);
  const { base } = await serve(t, { 'cifar-10-binary.tar.gz': { body: archive } });
  const dataDir = join(dir, 'data');
  const seen: Progress[] = [];
  const r = await downloadDataset('cifar10', { dataDir, baseUrl: base, checksums: { 'cifar-10-binary.tar.gz': md5(archive) }, onProgress: (p) => seen.push(p) });
  assert.equal(r.path, join(dataDir, 'cifar-10-batches-bin'));
  assert.deepEqual(r.fetched, [join(dataDir, 'cifar-10-binary.tar.gz')]);
  assert.deepEqual([...loadCifar10('test', { dataDir }).labels()], [7, 8, 9]);
  assert.equal(existsSync(join(dataDir, 'cifar-10-binary.tar.gz')), false, 'archive removed after extraction');
  assert.deepEqual(leftovers(dataDir), []);
  const last = seen.at(-1)!;
  assert.equal(last.bytes, archive.length);
  assert.equal(last.total, archive.length);
  assert.ok(last.rate > 0);
  const again = await downloadDataset('cifar10', { dataDir, baseUrl: base });
  assert.deepEqual(again.fetched, [], 'a present dataset is not fetched again');
});

test('download: a dropped connection resumes with Range; the partial file never looks complete', async (t) => {
  const dir = tmp(t);
  const archive = miniCifar10(dir);
  const cut = Math.floor(archive.length * 0.4);
  const { base, log } = await serve(t, { 'cifar-10-binary.tar.gz': { body: archive, drops: 1, dropAfter: cut } });
  const dataDir = join(dir, 'data');
  const o = { dataDir, baseUrl: base, checksums: { 'cifar-10-binary.tar.gz': md5(archive) } };

  // One attempt only: the transfer fails and leaves just the .part.
  await assert.rejects(downloadDataset('cifar10', { ...o, attempts: 1 }), (e: unknown) => {
    assert.ok(e instanceof DataError);
    assert.match(e.message, /download failed .*place it at .*cifar-10-binary\.tar\.gz/);
    return true;
  });
  const part = join(dataDir, 'cifar-10-binary.tar.gz.part');
  assert.equal(statSync(part).size, cut);
  assert.equal(existsSync(join(dataDir, 'cifar-10-binary.tar.gz')), false);
  assert.equal(existsSync(join(dataDir, 'cifar-10-batches-bin')), false);
  assert.throws(() => loadCifar10('train', { dataDir }), /not found/);

  await downloadDataset('cifar10', o);
  assert.deepEqual(log.map((l) => l.range), [undefined, `bytes=${cut}-`]);
  assert.equal(loadCifar10('train', { dataDir }).length, 10);
  assert.deepEqual(leftovers(dataDir), []);
});

test('download: retries within one call, and restarts when the server ignores Range', async (t) => {
  const dir = tmp(t);
  const archive = miniCifar10(dir);
  const cut = 5000;
  const { base, log } = await serve(t, {
    'cifar-10-binary.tar.gz': { body: archive, drops: 2, dropAfter: cut, ignoreRange: true },
  });
  const dataDir = join(dir, 'data');
  await downloadDataset('cifar10', { dataDir, baseUrl: base, checksums: { 'cifar-10-binary.tar.gz': md5(archive) } });
  assert.deepEqual(log.map((l) => l.range), [undefined, `bytes=${cut}-`, `bytes=${cut}-`]);
  assert.equal(loadCifar10('test', { dataDir }).length, 3);
});

test('download: a wrong checksum deletes the download and says so', async (t) => {
  const dir = tmp(t);
  const archive = miniCifar10(dir);
  const { base } = await serve(t, { 'cifar-10-binary.tar.gz': { body: archive } });
  const dataDir = join(dir, 'data');
  await assert.rejects(downloadDataset('cifar10', { dataDir, baseUrl: base, checksums: { 'cifar-10-binary.tar.gz': '0'.repeat(32) } }), (e: unknown) => {
    assert.ok(e instanceof DataError);
    assert.match(e.message, new RegExp(`checksum mismatch .*MD5 is ${md5(archive)}, expected 0{32}`));
    return true;
  });
  assert.deepEqual(readdirSync(dataDir), []);
  // The built-in checksum is the official archive's, which this mini archive is not.
  await assert.rejects(downloadDataset('cifar10', { dataDir, baseUrl: base }), /expected c32a1d4ab5d03f1284b67883e8d87530/);
});

test('download: Fashion-MNIST .gz files checked by the SHA-256 of their payload', async (t) => {
  const dir = tmp(t);
  const train = idxPair(6), test_ = idxPair(4);
  const payloads: Record<string, Buffer> = {
    'train-images-idx3-ubyte': train.images, 'train-labels-idx1-ubyte': train.labels,
    't10k-images-idx3-ubyte': test_.images, 't10k-labels-idx1-ubyte': test_.labels,
  };
  const files: Record<string, Served> = {}, checksums: Record<string, string> = {};
  for (const [stem, p] of Object.entries(payloads)) {
    files[`${stem}.gz`] = { body: gzipSync(p) };
    checksums[`${stem}.gz`] = sha256(p);
  }
  files['t10k-labels-idx1-ubyte.gz']!.drops = 1;
  files['t10k-labels-idx1-ubyte.gz']!.dropAfter = 10;
  const { base } = await serve(t, files);
  const dataDir = join(dir, 'data');
  const r = await downloadDataset('fashion-mnist', { dataDir, baseUrl: base, checksums });
  assert.equal(r.fetched.length, 4);
  assert.equal(loadFashionMnist('train', { dataDir, verify: false }).length, 6);
  assert.deepEqual(gunzipSync(readFileSync(join(dataDir, 'fashion-mnist', 't10k-labels-idx1-ubyte.gz'))), test_.labels);
  assert.deepEqual((await downloadDataset('fashion-mnist', { dataDir, baseUrl: base, checksums })).fetched, []);
  // A damaged file in place is fetched again.
  writeFileSync(join(dataDir, 'fashion-mnist', 'train-labels-idx1-ubyte.gz'), 'junk');
  assert.deepEqual((await downloadDataset('fashion-mnist', { dataDir, baseUrl: base, checksums })).fetched, [join(dataDir, 'fashion-mnist', 'train-labels-idx1-ubyte.gz')]);
  await assert.rejects(downloadDataset('fashion-mnist', { dataDir: join(dir, 'other'), baseUrl: base }), /SHA-256 of the uncompressed data is .* expected c59f468a/);
});

test('download: TinyImageNet zip extracted into place', async (t) => {
  const dir = tmp(t);
  const zip = zipBytes(tinyImageNetFiles());
  const { base } = await serve(t, { 'tiny-imagenet-200.zip': { body: zip } });
  const dataDir = join(dir, 'data');
  await downloadDataset('tinyimagenet', { dataDir, baseUrl: base, keepArchive: true });
  const ds = loadTinyImageNet('val', { dataDir });
  assert.equal(ds.length, 3);
  assert.deepEqual(ds.get(0).shape, [3, 64, 64]);
  assert.equal(existsSync(join(dataDir, 'tiny-imagenet-200.zip')), true);
  assert.deepEqual(leftovers(dataDir), []);
});

test('download: a broken zip fails extraction cleanly and is not kept', async (t) => {
  const dir = tmp(t);
  const zip = zipBytes(tinyImageNetFiles());
  const { base } = await serve(t, { 'tiny-imagenet-200.zip': { body: zip.subarray(0, zip.length - 30) } });
  const dataDir = join(dir, 'data');
  await assert.rejects(downloadDataset('tinyimagenet', { dataDir, baseUrl: base }), (e: unknown) => {
    assert.ok(e instanceof DataError);
    assert.match(e.message, /tiny-imagenet-200\.zip: extraction failed .*deleted/);
    return true;
  });
  assert.deepEqual(readdirSync(dataDir), []);
});

test('download: with no server, the message says which files to place where', async (t) => {
  const dir = tmp(t);
  const closed = createServer();
  await new Promise<void>((ok) => closed.listen(0, '127.0.0.1', ok));
  const port = (closed.address() as AddressInfo).port;
  await new Promise<void>((ok) => closed.close(() => ok()));
  const dataDir = join(dir, 'data');
  await assert.rejects(downloadDataset('cifar100', { dataDir, baseUrl: `http://127.0.0.1:${port}` }), (e: unknown) => {
    assert.ok(e instanceof DataError);
    assert.match(e.message, /ECONNREFUSED/);
    assert.ok(e.message.includes('https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz'), e.message);
    assert.ok(e.message.includes(`place it at ${join(dataDir, 'cifar-100-binary.tar.gz')}`), e.message);
    return true;
  });
  await assert.rejects(downloadDataset('fashion-mnist', { dataDir, baseUrl: `http://127.0.0.1:${port}` }), /place the files there yourself .*train-images-idx3-ubyte\.gz.* in .*fashion-mnist\//);
  const { base } = await serve(t, {});
  await assert.rejects(downloadDataset('cifar10', { dataDir, baseUrl: base }), /HTTP 404/);
  await assert.rejects(downloadDataset('imagenet' as never, { dataDir }), /image-net\.org/);
});
