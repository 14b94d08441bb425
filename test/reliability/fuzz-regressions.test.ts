// The minimized inputs on which the parser fuzzers found a crash, kept as plain tests so the fix
// stays checked even when the fuzzers' seeds or run counts change.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import { DataError } from '../../src/data/dataset.js';
import { IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, loadIdxPair } from '../../src/data/readers/idx.js';
import { decodeJpeg } from '../../src/data/readers/jpeg.js';
import { StateDictError } from '../../src/nn/module.js';
import { BatchNorm2d, Sequential } from '../../src/nn/layers.js';
import { loadStateDictFile, saveStateDict } from '../../src/nn/serialize.js';
import { SafetensorsError, parseSafetensors, serializeSafetensors } from '../../src/tensor/safetensors.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { tempDir } from './fuzz.js';

test('safetensors: a header that is invalid JSON around a newline gives a one-line error', () => {
  // JSON.parse quotes the bad text, newline included, into its message.
  const json = new TextEncoder().encode('{"a":\n}');
  const buf = new Uint8Array(8 + json.length);
  new DataView(buf.buffer).setBigUint64(0, BigInt(json.length), true);
  buf.set(json, 8);
  assert.throws(() => parseSafetensors(buf, 'nl.safetensors'), (e: unknown) => {
    assert.ok(e instanceof SafetensorsError);
    assert.match(e.message, /^safetensors nl\.safetensors: header is not valid JSON/);
    // eslint-disable-next-line no-control-regex -- the message must hold no control character
    assert.ok(!/[\u0000-\u001f]/.test(e.message), JSON.stringify(e.message));
    return true;
  });
});

function idx(magic: number, dims: number[], payload = new Uint8Array(0)): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + payload.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, magic, false);
  dims.forEach((d, i) => v.setUint32(4 + 4 * i, d, false));
  out.set(payload, 4 + 4 * dims.length);
  return out;
}

test('IDX: images of zero rows or columns are a DataError, not a RangeError from the dataset', (t) => {
  const dir = tempDir(t, 'pai-regress-idx-');
  const ip = join(dir, 'train-images-idx3-ubyte'), lp = join(dir, 'train-labels-idx1-ubyte');
  for (const dims of [[0, 0, 0], [2, 0, 28], [2, 28, 0]]) {
    writeFileSync(ip, idx(IDX_IMAGES_MAGIC, dims));
    writeFileSync(lp, idx(IDX_LABELS_MAGIC, [dims[0]!], new Uint8Array(dims[0]!)));
    assert.throws(() => loadIdxPair(ip, lp, { name: 'z', numClasses: 10 }), (e: unknown) => e instanceof DataError && e.message.includes(ip) && /pixels/.test(e.message));
  }
});

test('JPEG: a frame header claiming far more pixels than the file can hold is refused at once', () => {
  const rgba = new Uint8Array(24 * 16 * 4).fill(128);
  const b = Uint8Array.from(jpeg.encode({ data: rgba, width: 24, height: 16 }, 80).data);
  let at = -1;
  for (let i = 2; i + 8 < b.length && at < 0; i++) if (b[i] === 0xff && b[i + 1] === 0xc0) at = i + 5;
  assert.ok(at > 0);
  // 166 x 65535: 10.9 megapixels from a file of a few hundred bytes; decoded, it took seconds.
  b[at] = 0; b[at + 1] = 166; b[at + 2] = 0xff; b[at + 3] = 0xff;
  const t0 = performance.now();
  assert.throws(() => decodeJpeg(b, 'big.JPEG'), (e: unknown) => e instanceof DataError && /^big\.JPEG: .*frame header declares more pixels/.test(e.message));
  assert.ok(performance.now() - t0 < 500, 'refused without decoding');
});

test('JPEG: the pixel bound leaves real images alone', () => {
  const w = 300, h = 200;
  const rgba = new Uint8Array(w * h * 4);
  for (let i = 0; i < rgba.length; i += 4) { rgba[i] = 30; rgba[i + 1] = 200; rgba[i + 2] = 90; rgba[i + 3] = 255; }
  // A flat image is the most compressible case there is.
  const img = decodeJpeg(Uint8Array.from(jpeg.encode({ data: rgba, width: w, height: h }, 10).data), 'flat.JPEG');
  assert.equal(img.width, w);
  assert.equal(img.height, h);
});

test('state dict: a fractional value for an int64 counter is refused at load, naming file and key', (t) => {
  const dir = tempDir(t, 'pai-regress-sd-');
  const path = join(dir, 'bn.safetensors');
  const model = new Sequential(new BatchNorm2d(2));
  const sd = model.stateDict();
  const entries = new Map([...sd].map(([k, v]) => [k, { dtype: 'F32' as const, shape: [...v.shape], data: Float32Array.from(v.data) }]));
  // The fuzzer's case: num_batches_tracked re-encoded as F16 bits 0x0001 (5.96e-8).
  entries.set('0.num_batches_tracked', { dtype: 'F32', shape: [], data: Float32Array.from([5.960464477539063e-8]) });
  writeFileSync(path, serializeSafetensors(entries));
  assert.throws(() => loadStateDictFile(model, path), (e: unknown) =>
    e instanceof StateDictError && e.message.includes(path) && /0\.num_batches_tracked holds 5\.96/.test(e.message));
  // The model is untouched and still saves.
  saveStateDict(join(dir, 'again.safetensors'), model);
  // In memory, NaN is refused the same way.
  const mem = new Map(sd);
  mem.set('0.num_batches_tracked', new Tensor(Float64Array.from([NaN]), []));
  assert.throws(() => model.loadStateDict(mem, { source: 'mem' }), (e: unknown) => e instanceof StateDictError && /not integers/.test(e.message));
});
