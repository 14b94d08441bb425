// Loader throughput: CIFAR-format data (50,000 random 3x32x32 images in memory) through
// randomCrop(32, pad 4) + flip + normalise at batch 128, prepared in the consumer thread and by two
// workers; and JPEG decoding of 64x64 images (TinyImageNet's size) when jpeg-js is installed.
// The consumer does no work, so the figures are the most the loader can feed a training loop.
//
//   node dist/bench/loader.js [--json] [--images N]

import { pathToFileURL } from 'node:url';
import { benchFlags, flag, int, jsonFlag, round, type Reporter } from './common.js';
import { InMemoryDataset } from '../src/data/dataset.js';
import { DataLoader } from '../src/data/loader.js';
import { standardTransform } from '../src/data/transforms.js';
import { Generator } from '../src/tensor/random.js';
import { defined } from '../src/tensor/checked.js';

type Report = (workload: string, fields: Record<string, number | string>, text: string) => void;

async function cifar(N: number, report: Report): Promise<void> {
  const per = 3 * 32 * 32;
  // Shared from the start, as a reader that wants worker loading would allocate it.
  const sab = new SharedArrayBuffer(N * per);
  const pixels = new Uint8Array(sab);
  const gen = new Generator(0).stream('bench');
  const words = new Uint32Array(sab);
  for (let i = 0; i < words.length; i++) words[i] = gen.nextU32();
  const labels = Int32Array.from({ length: N }, (_, i) => i % 10);
  const ds = new InMemoryDataset('bench-cifar', pixels, labels, [3, 32, 32], { numClasses: 10 });
  const transform = standardTransform('cifar10', 'train');
  for (const workers of [0, 2]) {
    const loader = new DataLoader(ds, { batchSize: 128, shuffle: true, seed: 1, transform, workers, persistentWorkers: true });
    // Epoch 0 warms up the JIT and starts the workers; epoch 1 is timed.
    for await (const b of loader.batches(0)) void b;
    const t0 = performance.now();
    let n = 0;
    for await (const b of loader.batches(1)) n += b.y.length;
    const s = (performance.now() - t0) / 1000;
    await loader.close();
    const rate = n / s;
    report(`loader-cifar-crop-flip-w${workers}`, { workers, images_per_s: Math.round(rate), ms: s * 1000 / (n / 128) },
      `loader cifar crop+flip+normalise, batch 128, workers ${workers}: ${Math.round(rate)} images/s (${n} images in ${s.toFixed(2)} s)`);
  }
}

interface JpegJs {
  encode(img: { data: Uint8Array; width: number; height: number }, quality: number): { data: Uint8Array };
  decode(buf: Uint8Array, opts: { useTArray: true; formatAsRGBA?: boolean }): { width: number; height: number; data: Uint8Array };
}

async function jpeg(report: Report): Promise<void> {
  let mod: JpegJs;
  try {
    // Through a variable so that this file compiles without jpeg-js.
    const name = 'jpeg-js';
    const m = (await import(name)) as JpegJs & { default?: JpegJs };
    mod = typeof m.encode === 'function' ? m : defined(m.default, 'the jpeg-js module');
  } catch {
    report('jpeg-decode-64', { skipped: 'jpeg-js not installed' }, 'jpeg decode 64x64: skipped (jpeg-js is not installed)');
    return;
  }
  // Smooth gradients with noise compress like photographs, unlike pure noise.
  const gen = new Generator(0).stream('bench-jpeg');
  const files: Uint8Array[] = [];
  for (let f = 0; f < 200; f++) {
    const rgba = new Uint8Array(64 * 64 * 4);
    const a = gen.uniform() * 4, b = gen.uniform() * 4;
    for (let y = 0; y < 64; y++) for (let x = 0; x < 64; x++) {
      const o = (y * 64 + x) * 4;
      rgba[o] = 128 + 100 * Math.sin(a * x / 10 + b * y / 13);
      rgba[o + 1] = 128 + 100 * Math.cos(b * x / 9 - y / 7);
      rgba[o + 2] = (x * 4 + gen.int(24)) & 255;
      rgba[o + 3] = 255;
    }
    files.push(mod.encode({ data: rgba, width: 64, height: 64 }, 90).data);
  }
  const run = (reps: number): number => {
    let n = 0;
    for (let r = 0; r < reps; r++) for (const f of files) { mod.decode(f, { useTArray: true, formatAsRGBA: false }); n++; }
    return n;
  };
  run(2);
  const t0 = performance.now();
  const n = run(10);
  const s = (performance.now() - t0) / 1000;
  const bytes = files.reduce((t, f) => t + f.length, 0) / files.length;
  report('jpeg-decode-64', { workers: 0, images_per_s: Math.round(n / s), ms: s * 1000 / n },
    `jpeg decode 64x64 (jpeg-js, ~${Math.round(bytes)} bytes each), one thread: ${Math.round(n / s)} images/s`);
}

/**
 * The loader suite of `npm run bench`. The ms of a row is per batch of 128 (per image for JPEG
 * decoding), threads the loader's worker threads (1: the consumer's own); there is no PyTorch
 * counterpart, whose loader would time torchvision's transforms rather than the same work.
 */
export async function runLoaderSuite(o: { images?: number }, rep: Reporter): Promise<void> {
  const report: Report = (workload, f, text) => {
    if (typeof f['skipped'] === 'string') { rep.note(text); return; }
    rep.row({ suite: 'loader', workload, backend: 'js', threads: Math.max(1, f['workers'] as number), ms: round(f['ms'] as number, 3), images_per_s: f['images_per_s'] as number, workers: f['workers'] as number });
  };
  await cifar(o.images ?? 50_000, report);
  await jpeg(report);
}

async function main(): Promise<void> {
  const { json, images } = benchFlags<{ json?: boolean; images: number }>({
    file: 'loader',
    description: 'Loader throughput: CIFAR-format images through crop, flip and normalise at batch 128 (no workers and two), and JPEG decoding of 64x64 images.',
    flags: [flag('--images <n>', 'images in the in-memory CIFAR-format dataset', int(1), 50_000), jsonFlag()],
    examples: ['node dist/bench/loader.js --images 10000', 'node dist/bench/loader.js --json'],
  });
  const report: Report = (workload, fields, text) => {
    const { ms: _ms, ...rest } = fields;
    if (json) console.log(JSON.stringify({ workload: workload.replace(/-w\d+$/, ''), ...rest }));
    else console.log(text);
  };
  await cifar(images, report);
  await jpeg(report);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
