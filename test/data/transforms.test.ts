import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Generator } from '../../src/tensor/random.js';
import {
  toFloat, normalize, pad, padTo, crop, randomCrop, hflip, horizontalFlip, resize, resizeBilinear, resizedShape,
  centerCrop, randomResizedCrop, randomResizedCropWindow, roundHalfEven, compileTransform, compileTransformUnfused, transformedShape,
  standardTransform, validateTransformSpec, NORMALIZATION, type FloatImage, type TransformSpec,
} from '../../src/data/transforms.js';

/** An image whose value at (c, y, x) is 100c + 10y + x + 1, so every position is recognisable and non-zero. */
function coded(c: number, h: number, w: number): FloatImage {
  const data = new Float32Array(c * h * w);
  for (let ch = 0; ch < c; ch++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data[(ch * h + y) * w + x] = 100 * ch + 10 * y + x + 1;
  return { data, shape: [c, h, w] };
}
const at = (img: FloatImage, c: number, y: number, x: number) => img.data[(c * img.shape[1] + y) * img.shape[2] + x]!;

test('toFloat divides by 255 and normalize uses per-channel mean and std', () => {
  const pixels = Uint8Array.from([0, 51, 255, 0, 102, 255]);
  const f = toFloat({ pixels, shape: [2, 1, 3] });
  assert.deepEqual(Array.from(f.data), Array.from(pixels, (v) => Math.fround(v / 255)));
  const n = normalize(f, [0.5, 0.25], [0.5, 2]);
  const expect = [(0 - 0.5) / 0.5, (0.2 - 0.5) / 0.5, (1 - 0.5) / 0.5, (0 - 0.25) / 2, (0.4 - 0.25) / 2, (1 - 0.25) / 2];
  n.data.forEach((v, i) => assert.ok(Math.abs(v - expect[i]!) < 1e-6, `${i}: ${v} vs ${expect[i]}`));
  assert.equal(f.data[1], Math.fround(0.2), 'input untouched');
  assert.throws(() => normalize(f, [0.5], [0.5]), /channels/);
});

test('pad and padTo add zeros around an unchanged centre', () => {
  const img = coded(1, 28, 28);
  const p = padTo(img, 32);
  assert.deepEqual(p.shape, [1, 32, 32]);
  for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) {
    const inside = y >= 2 && y < 30 && x >= 2 && x < 30;
    assert.equal(at(p, 0, y, x), inside ? at(img, 0, y - 2, x - 2) : 0, `(${y}, ${x})`);
  }
  const q = pad(coded(2, 3, 3), 1);
  assert.deepEqual(q.shape, [2, 5, 5]);
  assert.equal(at(q, 1, 1, 1), 101);
  assert.equal(at(q, 1, 0, 0), 0);
  assert.throws(() => padTo(coded(1, 40, 40), 32), /already/);
});

test('randomCrop: offsets within bounds, content a shifted window, padding zeros; all offsets reachable', () => {
  const img = coded(3, 32, 32);
  const gen = new Generator(3);
  const seen = new Set<string>();
  for (let t = 0; t < 3000; t++) {
    const out = randomCrop(img, 32, gen, 4);
    assert.deepEqual(out.shape, [3, 32, 32]);
    // The crop must equal some window (top, left) of the zero-padded source, 0 <= top, left <= 8.
    let top = -1, left = -1;
    for (let ty = 0; ty <= 8 && top < 0; ty++) for (let tx = 0; tx <= 8; tx++) {
      let ok = true;
      for (let c = 0; c < 3 && ok; c++) for (let y = 0; y < 32 && ok; y++) for (let x = 0; x < 32 && ok; x++) {
        const sy = y + ty - 4, sx = x + tx - 4;
        const want = sy >= 0 && sy < 32 && sx >= 0 && sx < 32 ? at(img, c, sy, sx) : 0;
        if (at(out, c, y, x) !== want) ok = false;
      }
      if (ok) { top = ty; left = tx; break; }
    }
    assert.ok(top >= 0 && top <= 8 && left >= 0 && left <= 8, `crop ${t} matches no window`);
    seen.add(`${top},${left}`);
    if (seen.size === 81) break;
  }
  assert.equal(seen.size, 81, 'every one of the 9x9 offsets occurs');
});

test('horizontal flip mirrors exactly; p=0 and p=1 are deterministic', () => {
  const img = coded(2, 4, 5);
  const f = hflip(img);
  for (let c = 0; c < 2; c++) for (let y = 0; y < 4; y++) for (let x = 0; x < 5; x++) assert.equal(at(f, c, y, x), at(img, c, y, 4 - x));
  assert.deepEqual(hflip(f).data, img.data);
  const gen = new Generator(0);
  assert.deepEqual(horizontalFlip(img, gen, 0).data, img.data);
  assert.deepEqual(horizontalFlip(img, gen, 1).data, f.data);
  let flips = 0;
  for (let t = 0; t < 1000; t++) if (horizontalFlip(img, gen).data[0] !== img.data[0]) flips++;
  assert.ok(flips > 420 && flips < 580, `${flips} flips of 1000`);
});

test('resize: constant stays constant, ramp stays monotone, torchvision output sizes', () => {
  const c = { data: new Float32Array(3 * 20 * 30).fill(0.37), shape: [3, 20, 30] as const };
  for (const [h, w] of [[7, 11], [40, 60], [20, 30], [1, 1]] as const) {
    const r = resizeBilinear(c, h, w);
    assert.deepEqual(r.shape, [3, h, w]);
    for (const v of r.data) assert.ok(Math.abs(v - 0.37) < 1e-6);
  }
  const ramp: FloatImage = { data: new Float32Array(9 * 13), shape: [1, 9, 13] };
  for (let y = 0; y < 9; y++) for (let x = 0; x < 13; x++) ramp.data[y * 13 + x] = x + 0.5 * y;
  for (const [h, w] of [[5, 6], [20, 31]] as const) {
    const r = resizeBilinear(ramp, h, w);
    for (let y = 0; y < h; y++) for (let x = 1; x < w; x++) assert.ok(at(r, 0, y, x) >= at(r, 0, y, x - 1), `row ${y} col ${x}`);
    for (let x = 0; x < w; x++) for (let y = 1; y < h; y++) assert.ok(at(r, 0, y, x) >= at(r, 0, y - 1, x));
    assert.ok(at(r, 0, 0, w - 1) > at(r, 0, 0, 0));
  }
  // Same size is the identity; 2x upscale of [0, 1] gives PyTorch's [0, .25, .75, 1].
  assert.deepEqual(resizeBilinear(ramp, 9, 13).data, ramp.data);
  const up = resizeBilinear({ data: Float32Array.from([0, 1]), shape: [1, 1, 2] }, 1, 4);
  assert.deepEqual(Array.from(up.data), [0, 0.25, 0.75, 1]);
  assert.deepEqual(resizedShape(375, 500, 256), [256, 341]);
  assert.deepEqual(resizedShape(500, 375, 256), [341, 256]);
  assert.deepEqual(resize(coded(1, 10, 20), 5).shape, [1, 5, 10]);
});

test('centerCrop takes the middle with Python rounding, and pads small images', () => {
  assert.equal(roundHalfEven(16.5), 16);
  assert.equal(roundHalfEven(17.5), 18);
  assert.equal(roundHalfEven(2.4), 2);
  const img = coded(1, 9, 8);
  const cc = centerCrop(img, 4);
  // top = round(2.5) = 2, left = round(2) = 2.
  assert.deepEqual(cc.data, crop(img, 2, 2, 4, 4).data);
  assert.equal(at(cc, 0, 0, 0), at(img, 0, 2, 2));
  const odd = centerCrop(coded(1, 10, 10), 7); // round(1.5) = 2
  assert.equal(at(odd, 0, 0, 0), at(coded(1, 10, 10), 0, 2, 2));
  const big = centerCrop(coded(1, 2, 2), 4);
  assert.deepEqual(Array.from(big.data), [0, 0, 0, 0, 0, 1, 2, 0, 0, 11, 12, 0, 0, 0, 0, 0]);
});

test('randomResizedCrop: output size, windows inside the image and within scale/ratio', () => {
  const gen = new Generator(11);
  const img = coded(3, 60, 80);
  for (let t = 0; t < 200; t++) {
    const win = randomResizedCropWindow(60, 80, gen);
    assert.ok(win.top >= 0 && win.left >= 0 && win.top + win.height <= 60 && win.left + win.width <= 80, JSON.stringify(win));
    const area = win.height * win.width / (60 * 80);
    assert.ok(area > 0.05 && area <= 1.0001, `area ${area}`);
  }
  const out = randomResizedCrop(img, 24, gen);
  assert.deepEqual(out.shape, [3, 24, 24]);
  // Impossible scale forces the fallback: a central crop clamped to the ratio bounds.
  const fb = randomResizedCropWindow(10, 100, gen, [2, 3]);
  assert.deepEqual(fb, { top: 0, left: Math.floor((100 - 13) / 2), height: 10, width: 13 });
  const whole = randomResizedCropWindow(50, 50, gen, [5, 6]);
  assert.deepEqual(whole, { top: 0, left: 0, height: 50, width: 50 });
});

test('compiled pipelines: shapes, determinism per generator, spec validation', () => {
  const spec: TransformSpec = standardTransform('cifar10', 'train');
  assert.deepEqual(spec.steps.map((s) => s.op), ['randomCrop', 'flip', 'normalize']);
  const round = JSON.parse(JSON.stringify(spec)) as TransformSpec;
  const f = compileTransform(round);
  const pixels = new Uint8Array(3 * 32 * 32).map((_, i) => (i * 37) % 256);
  const sample = { pixels, shape: [3, 32, 32] as const };
  const a = f(sample, new Generator(5).stream('x'));
  const b = f(sample, new Generator(5).stream('x'));
  assert.deepEqual(a.shape, [3, 32, 32]);
  assert.deepEqual(a.data, b.data);
  assert.equal(pixels[1], 37, 'sample pixels untouched');
  const { mean, std } = NORMALIZATION['cifar10']!;
  // Padding becomes (0 - mean) / std, as in torchvision; some of 50 crops must show it.
  const g = new Generator(1);
  let sawPad = false;
  for (let t = 0; t < 50 && !sawPad; t++) {
    const o = f(sample, g);
    if (Math.abs(o.data[0]! - (0 - mean[0]!) / std[0]!) < 1e-6) sawPad = true;
  }
  assert.ok(sawPad);

  assert.deepEqual(standardTransform('fashion-mnist/train', 'train', { padTo32: true }).steps.map((s) => s.op), ['padTo', 'flip', 'normalize']);
  assert.deepEqual(standardTransform('fashion-mnist', 'eval').steps.map((s) => s.op), ['normalize']);
  assert.deepEqual(standardTransform('tiny-imagenet', 'train').steps[0], { op: 'randomCrop', size: 64, padding: 4 });
  const inet = standardTransform('imagenet', 'eval');
  assert.deepEqual(inet.steps.map((s) => s.op), ['resize', 'centerCrop', 'normalize']);
  assert.deepEqual(transformedShape(inet, [3, 375, 500]), [3, 224, 224]);
  const out = compileTransform(inet)({ pixels: new Uint8Array(3 * 300 * 400).fill(128), shape: [3, 300, 400] }, new Generator(0));
  assert.deepEqual(out.shape, [3, 224, 224]);
  assert.deepEqual(transformedShape(standardTransform('imagenet', 'train'), [3, 375, 500]), [3, 224, 224]);
  assert.deepEqual(transformedShape(standardTransform('mnist', 'eval', { padTo32: true }), [1, 28, 28]), [1, 32, 32]);

  assert.throws(() => validateTransformSpec({ steps: [{ op: 'blur' } as never] }), /unknown op/);
  assert.throws(() => validateTransformSpec({ steps: [{ op: 'normalize', mean: [0], std: [1] }, { op: 'flip' }] }), /last step/);
  assert.throws(() => validateTransformSpec({ steps: [{ op: 'randomCrop', size: -1 }] }), /positive integer/);
  assert.throws(() => standardTransform('svhn', 'train'), /no standard transforms/);
});

test('the fused pad/crop/flip/normalise path gives the step-by-step bits and draws', () => {
  const specs: TransformSpec[] = [
    standardTransform('cifar10', 'train'),
    standardTransform('cifar100', 'eval'),
    standardTransform('fashion-mnist', 'train', { padTo32: true }),
    { steps: [{ op: 'randomCrop', size: 6, padding: 0 }, { op: 'flip', p: 0.7 }] },
    { steps: [{ op: 'flip' }, { op: 'randomCrop', size: 12, padding: 5 }, { op: 'flip' }, { op: 'pad', padding: 2 }] },
    { steps: [{ op: 'centerCrop', size: 11 }, { op: 'randomCrop', size: 7, padding: 1 }, { op: 'normalize', mean: [0.1, 0.2, 0.3], std: [0.9, 0.8, 0.7] }] },
    { steps: [{ op: 'flip', p: 1 }, { op: 'centerCrop', size: 5 }] },
    // Windows that fall wholly or partly into padding, then are padded again.
    { steps: [{ op: 'pad', padding: 10 }, { op: 'randomCrop', size: 4, padding: 0 }, { op: 'flip' }, { op: 'pad', padding: 1 }] },
    { steps: [{ op: 'centerCrop', size: 40 }, { op: 'randomCrop', size: 20, padding: 3 }, { op: 'flip' }, { op: 'centerCrop', size: 24 }] },
    { steps: [] },
  ];
  const gen = new Generator(21);
  for (const spec of specs) {
    const fused = compileTransform(spec), plain = compileTransformUnfused(spec);
    for (const [c, h, w] of [[3, 32, 32], [3, 9, 8], [1, 28, 28]] as const) {
      const usesNorm = spec.steps.some((st) => st.op === 'normalize');
      const chans = usesNorm ? (spec.steps.at(-1) as unknown as { mean: number[] }).mean.length : c;
      if (chans !== c) continue;
      if (spec.steps.some((st) => st.op === 'padTo') && h > 32) continue;
      for (let t = 0; t < 20; t++) {
        const pixels = new Uint8Array(c * h * w);
        for (let i = 0; i < pixels.length; i++) pixels[i] = gen.int(256);
        const sample = { pixels, shape: [c, h, w] as const };
        const seed = gen.int(1000);
        const ga = new Generator(seed), gb = new Generator(seed);
        const out = new Float32Array(transformedShape(spec, [c, h, w]).reduce((a, b) => a * b, 1));
        let b;
        try { b = plain(sample, gb); } catch (e) {
          // Too small for the crop: both paths refuse it the same way.
          assert.throws(() => fused(sample, ga, out), { message: (e as Error).message });
          continue;
        }
        const a = fused(sample, ga, out);
        assert.deepEqual(a.shape, b.shape, JSON.stringify(spec));
        assert.deepEqual(a.shape, transformedShape(spec, [c, h, w]));
        assert.ok(a.data === out || a.data.buffer === out.buffer, 'written into out');
        assert.deepEqual(a.data, b.data, `${JSON.stringify(spec)} on ${c}x${h}x${w}`);
        assert.equal(ga.nextU32(), gb.nextU32(), 'same number of draws');
      }
    }
  }
});
