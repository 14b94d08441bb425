// Checkpoint directories: a bit-identical round trip of model, masks, optimiser and trainer state;
// a checkpoint without its `complete` marker (or with a truncated file) is never loaded; a crash
// between the two renames of a save still leaves a complete checkpoint to find.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, existsSync, unlinkSync, truncateSync, renameSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tensor } from '../../src/tensor/tensor.js';
import { randn } from '../../src/tensor/create.js';
import { Generator } from '../../src/tensor/random.js';
import { backward, crossEntropy } from '../../src/autograd/index.js';
import { createModel } from '../../src/models/index.js';
import { setNumThreads } from '../../src/kernels/index.js';
import { SGD } from '../../src/train/optim.js';
import { saveCheckpoint, loadCheckpoint, latestCheckpoint, isCheckpointComplete, restoreModel, CheckpointError } from '../../src/train/checkpoint.js';

setNumThreads(1);
const root = mkdtempSync(join(tmpdir(), 'pai-ckpt-'));
process.on('exit', () => rmSync(root, { recursive: true, force: true }));

const bits = (t: Tensor): Buffer => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);

function setup() {
  const model = createModel('resnet20', { width: 1 / 8, imageSize: 8, numClasses: 4, seed: 2 });
  const gen = new Generator(4);
  const masks = new Map<string, Tensor>();
  const w = model.namedParameters().find(([n]) => n.includes('conv'))!;
  masks.set(w[0], new Tensor(Float32Array.from({ length: w[1].size }, () => (gen.uniform() < 0.5 ? 1 : 0)), w[1].shape));
  const opt = new SGD(model.namedParameters(), { lr: 0.1, momentum: 0.9, weightDecay: 5e-4 });
  model.train();
  for (let s = 0; s < 2; s++) {
    backward(crossEntropy(model.forward(randn([4, 3, 8, 8], gen)), Int32Array.from([0, 1, 2, 3])));
    opt.step();
    opt.zeroGrad();
  }
  return { model, masks, opt };
}

test('round trip: model (BN counters included), masks, optimiser buffers and trainer JSON come back bit for bit', () => {
  const { model, masks, opt } = setup();
  const dir = join(root, 'rt');
  const trainer = { epoch: 3, step: 17, lr: 0.1 * 0.2, history: [{ epoch: 1, loss: 1 / 3 }], seed: 9 };
  saveCheckpoint(dir, { model, masks, optimizer: opt, trainer });
  assert.deepEqual(readdirSync(dir).sort(), ['complete', 'masks.safetensors', 'model.safetensors', 'optimizer.json', 'optimizer.safetensors', 'trainer.json']);
  assert.ok(isCheckpointComplete(dir));
  const c = loadCheckpoint<typeof trainer>(dir);
  assert.deepEqual(c.trainer, trainer);
  for (const [k, t] of model.stateDict()) {
    const u = c.modelState.get(k)!;
    assert.ok(u, k);
    if (k.endsWith('num_batches_tracked')) assert.equal(u.data[0], t.data[0]);
    else assert.ok(bits(u).equals(bits(t)), k);
  }
  const [mk, mt] = [...masks][0]!;
  assert.ok(bits(c.masks!.get(mk)!).equals(bits(mt)));
  const s = opt.stateDict();
  assert.equal(c.optimizer!.name, 'sgd');
  assert.deepEqual(c.optimizer!.hyper, s.hyper);
  for (const [k, t] of s.buffers) assert.ok(bits(c.optimizer!.buffers.get(k)!).equals(bits(t)), k);

  // Restoring into a fresh model and optimiser reproduces the next step exactly.
  const fresh = createModel('resnet20', { width: 1 / 8, imageSize: 8, numClasses: 4, seed: 99 });
  restoreModel(fresh, dir);
  const opt2 = new SGD(fresh.namedParameters(), { lr: 0.1, momentum: 0.9, weightDecay: 5e-4 });
  opt2.loadStateDict(c.optimizer!);
  const x = randn([4, 3, 8, 8], new Generator(11));
  for (const [m, o] of [[model, opt], [fresh, opt2]] as const) {
    m.train();
    backward(crossEntropy(m.forward(x), Int32Array.from([3, 2, 1, 0])));
    o.step();
    o.zeroGrad();
  }
  const a = model.stateDict(), b = fresh.stateDict();
  for (const [k, t] of a) assert.ok(bits(b.get(k)!).equals(bits(t)), `after one more step: ${k}`);
  // A checkpoint without masks or optimiser is fine too.
  saveCheckpoint(join(root, 'plain'), { model, trainer: {} });
  const p = loadCheckpoint(join(root, 'plain'));
  assert.equal(p.masks, null);
  assert.equal(p.optimizer, null);
});

test('a checkpoint without its marker, or with a truncated file, is refused', () => {
  const { model, masks, opt } = setup();
  const dir = join(root, 'half');
  saveCheckpoint(dir, { model, masks, optimizer: opt, trainer: { a: 1 } });
  truncateSync(join(dir, 'optimizer.safetensors'), 10);
  assert.throws(() => loadCheckpoint(dir), (e: Error) => e instanceof CheckpointError && /optimizer\.safetensors has 10 bytes/.test(e.message));
  assert.equal(isCheckpointComplete(dir), false);
  saveCheckpoint(dir, { model, masks, optimizer: opt, trainer: { a: 2 } });
  unlinkSync(join(dir, 'complete'));
  assert.throws(() => loadCheckpoint(dir), /no 'complete' marker/);
  assert.equal(latestCheckpoint(dir), null);
});

test('saving over a checkpoint replaces it whole; a crash mid-swap leaves a complete one to find', () => {
  const { model, opt } = setup();
  const dir = join(root, 'swap');
  saveCheckpoint(dir, { model, optimizer: opt, trainer: { n: 1 } });
  saveCheckpoint(dir, { model, trainer: { n: 2 } });
  // The second save had no optimiser: nothing of the first survives in the directory.
  assert.equal(existsSync(join(dir, 'optimizer.json')), false);
  assert.deepEqual(loadCheckpoint(dir).trainer, { n: 2 });
  assert.equal(existsSync(`${dir}.tmp`) || existsSync(`${dir}.old`), false);

  // Crash after `dir` was moved aside and before the staged one was moved in.
  saveCheckpoint(`${dir}-staged`, { model, trainer: { n: 3 } });
  renameSync(dir, `${dir}.old`);
  renameSync(`${dir}-staged`, `${dir}.tmp`);
  assert.equal(latestCheckpoint(dir), `${dir}.tmp`);
  rmSync(`${dir}.tmp`, { recursive: true });
  assert.equal(latestCheckpoint(dir), `${dir}.old`);
  assert.deepEqual(loadCheckpoint(latestCheckpoint(dir)!).trainer, { n: 2 });
  // A stale, incomplete staging directory is ignored and cleared by the next save.
  saveCheckpoint(`${dir}.tmp`, { model, trainer: { n: 4 } });
  unlinkSync(join(`${dir}.tmp`, 'complete'));
  assert.equal(latestCheckpoint(dir), `${dir}.old`);
  saveCheckpoint(dir, { model, trainer: { n: 5 } });
  assert.deepEqual(loadCheckpoint(latestCheckpoint(dir)!).trainer, { n: 5 });
  assert.ok(statSync(join(dir, 'model.safetensors')).size > 0);
});
