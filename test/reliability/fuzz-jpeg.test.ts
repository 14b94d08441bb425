// Fuzzing the JPEG path (TinyImageNet and ImageNet folders): corrupt, truncated and resized JPEGs
// and damaged index files must end in a DataError naming the file, never a decoder exception of
// another type, a hang, or a giant allocation.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import fc from 'fast-check';
import { DataError } from '../../src/data/dataset.js';
import { decodeJpeg, readJpeg } from '../../src/data/readers/jpeg.js';
import { loadTinyImageNet } from '../../src/data/readers/tinyimagenet.js';
import { byteMutations, checkCoverage, expectClean, fuzzParams, mutate, tally, tempDir } from './fuzz.js';

/** A real baseline JPEG (smooth gradients plus texture, so every block has AC coefficients). */
function makeJpeg(w: number, h: number, quality: number): Uint8Array {
  const rgba = new Uint8Array(w * h * 4);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const p = (y * w + x) * 4;
      rgba[p] = (x * 255) / w;
      rgba[p + 1] = (y * 255) / h;
      rgba[p + 2] = ((x ^ y) * 37) & 255;
      rgba[p + 3] = 255;
    }
  }
  return Uint8Array.from(jpeg.encode({ data: rgba, width: w, height: h }, quality).data);
}

const SMALL = makeJpeg(24, 16, 80);
const TILE = makeJpeg(64, 64, 60);

/** Offset of the frame header's height field (after FFC0/FFC2 marker, length and precision). */
function sofDims(b: Uint8Array): number {
  for (let i = 2; i + 8 < b.length; i++) {
    if (b[i] === 0xff && (b[i + 1] === 0xc0 || b[i + 1] === 0xc2)) return i + 5;
  }
  throw new Error('no SOF marker');
}

test('JPEG: decodeJpeg on randomly corrupted and truncated images', (t) => {
  const n = tally();
  fc.assert(fc.property(byteMutations(4), (m) => {
    const img = expectClean(() => decodeJpeg(mutate(SMALL, m), 'fuzz/img.JPEG'), [DataError], 'fuzz/img.JPEG', n);
    if (img) assert.equal(img.pixels.length, 3 * img.height * img.width);
  }), fuzzParams(2000, 31));
  t.diagnostic(`${n.ok + n.refused} inputs: ${n.ok} accepted, ${n.refused} refused`);
  checkCoverage('jpeg bytes', n);
});

test('JPEG: truncation at every length', (t) => {
  const n = tally();
  for (let len = 0; len < SMALL.length; len++) {
    expectClean(() => decodeJpeg(SMALL.slice(0, len), 'cut.JPEG'), [DataError], 'cut.JPEG', n);
  }
  t.diagnostic(`${SMALL.length} inputs: ${n.ok} accepted, ${n.refused} refused`);
  assert.ok(n.refused > 0);
});

test('JPEG: frame-header dimension edits (huge, zero, mismatched)', (t) => {
  const at = sofDims(SMALL);
  const n = tally();
  const side = fc.oneof(fc.constantFrom(0, 1, 2, 8, 15, 16, 17, 24, 25, 4096, 10000, 32767, 65535), fc.integer({ min: 0, max: 65535 }));
  fc.assert(fc.property(side, side, (h, w) => {
    const b = Uint8Array.from(SMALL);
    b[at] = h >> 8; b[at + 1] = h & 255; b[at + 2] = w >> 8; b[at + 3] = w & 255;
    expectClean(() => decodeJpeg(b, 'dims.JPEG'), [DataError], 'dims.JPEG', n);
  }), fuzzParams(300, 32));
  t.diagnostic(`${n.ok + n.refused} inputs: ${n.ok} accepted, ${n.refused} refused`);
});

test('JPEG: readJpeg of files that are not there, folders, and empty files', (t) => {
  const dir = tempDir(t, 'pai-fuzz-jpeg-');
  mkdirSync(join(dir, 'folder.JPEG'));
  writeFileSync(join(dir, 'empty.JPEG'), new Uint8Array(0));
  for (const f of ['missing.JPEG', 'folder.JPEG', 'empty.JPEG']) {
    const p = join(dir, f);
    assert.throws(() => readJpeg(p), (e: unknown) => e instanceof DataError && e.message.includes(p));
  }
});

// --- TinyImageNet: a two-class tree whose index files and images are damaged --------------------

const WNIDS = ['n01443537', 'n01629819'];

function writeTree(root: string): void {
  writeFileSync(join(root, 'wnids.txt'), WNIDS.join('\n') + '\n');
  writeFileSync(join(root, 'words.txt'), `${WNIDS[0]}\tgoldfish\n${WNIDS[1]}\tnewt\n`);
  for (const w of WNIDS) {
    mkdirSync(join(root, 'train', w, 'images'), { recursive: true });
    writeFileSync(join(root, 'train', w, 'images', `${w}_0.JPEG`), TILE);
  }
  mkdirSync(join(root, 'val', 'images'), { recursive: true });
  writeFileSync(join(root, 'val', 'images', 'val_0.JPEG'), TILE);
  writeFileSync(join(root, 'val', 'images', 'val_1.JPEG'), TILE);
}

const WNIDS_TXT = new TextEncoder().encode(WNIDS.join('\n') + '\n');
const ANNOTATIONS = new TextEncoder().encode(`val_0.JPEG\t${WNIDS[1]}\t0\t0\t63\t63\nval_1.JPEG\t${WNIDS[0]}\t0\t0\t63\t63\n`);

test('TinyImageNet: mutated wnids.txt, val_annotations.txt and images', (t) => {
  const dir = tempDir(t, 'pai-fuzz-tin-');
  const root = join(dir, 'tiny-imagenet-200');
  mkdirSync(root);
  writeTree(root);
  const n = tally();
  const target = fc.constantFrom('wnids' as const, 'annotations' as const, 'train-image' as const, 'val-image' as const);
  fc.assert(fc.property(target, byteMutations(3), fc.constantFrom('train' as const, 'val' as const), (tg, m, split) => {
    writeFileSync(join(root, 'wnids.txt'), tg === 'wnids' ? mutate(WNIDS_TXT, m) : WNIDS_TXT);
    writeFileSync(join(root, 'val', 'val_annotations.txt'), tg === 'annotations' ? mutate(ANNOTATIONS, m) : ANNOTATIONS);
    writeFileSync(join(root, 'train', WNIDS[0]!, 'images', `${WNIDS[0]}_0.JPEG`), tg === 'train-image' ? mutate(TILE, m) : TILE);
    writeFileSync(join(root, 'val', 'images', 'val_0.JPEG'), tg === 'val-image' ? mutate(TILE, m) : TILE);
    expectClean(() => {
      const ds = loadTinyImageNet(split, { dataDir: dir });
      for (let i = 0; i < ds.length; i++) {
        const s = ds.get(i);
        assert.deepEqual(s.shape, [3, 64, 64]);
        assert.ok(s.label >= 0 && s.label < ds.numClasses);
      }
      return ds;
    }, [DataError], root, n);
  }), fuzzParams(800, 33));
  t.diagnostic(`${n.ok + n.refused} inputs: ${n.ok} accepted, ${n.refused} refused`);
  checkCoverage('tinyimagenet', n);
});
