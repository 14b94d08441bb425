// LR schedules stepped per epoch as PyTorch steps them: the lr set before epoch e is a closed form
// checked here against known values, and a scheduler restored from its state sets the same lr.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MultiStepLR, CosineAnnealingLR, ConstantSchedule, LinearWarmup, createScheduler, resolveSchedule, ScheduleError, type LRScheduler } from '../../src/train/schedule.js';

/** The lr in force during each epoch, as a PyTorch loop sees it (scheduler.step() after each epoch). */
function sequence(s: LRScheduler, opt: { lr: number }, epochs: number): number[] {
  const out: number[] = [];
  for (let e = 0; e < epochs; e++) { out.push(opt.lr); s.step(); }
  return out;
}

const near = (a: number, b: number, what: string): void => assert.ok(Math.abs(a - b) <= 1e-12 * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);

test('MultiStepLR([80, 120], gamma 0.2) from lr 0.03: the paper\'s schedule', () => {
  const opt = { lr: 0.03 };
  const s = new MultiStepLR(opt, [80, 120], 0.2);
  const lrs = sequence(s, opt, 160);
  const expected: Record<number, number> = { 0: 0.03, 79: 0.03, 80: 0.006, 119: 0.006, 120: 0.0012, 159: 0.0012 };
  for (const [e, v] of Object.entries(expected)) near(lrs[+e]!, v, `epoch ${e}`);
  for (const [e, v] of Object.entries(expected)) near(s.lrAt(+e), v, `lrAt(${e})`);
  assert.equal(new Set(lrs.map((v) => v.toPrecision(10))).size, 3);
});

test('MultiStepLR default gamma is 0.1, unsorted milestones are sorted', () => {
  const opt = { lr: 1 };
  const s = new MultiStepLR(opt, [5, 2]);
  near(s.lrAt(1), 1, 'e1'); near(s.lrAt(2), 0.1, 'e2'); near(s.lrAt(5), 0.01, 'e5');
});

test('CosineAnnealingLR(tMax 10, etaMin 0.001) from 0.1: known values and PyTorch\'s recursive form', () => {
  const opt = { lr: 0.1 };
  const s = new CosineAnnealingLR(opt, 10, 0.001);
  const lrs = sequence(s, opt, 21);
  near(lrs[0]!, 0.1, 'e0');
  near(lrs[5]!, 0.0505, 'e5');
  near(lrs[10]!, 0.001, 'e10');
  near(lrs[3]!, 0.001 + 0.099 * (1 + Math.cos(0.3 * Math.PI)) / 2, 'e3');
  assert.ok(Math.abs(lrs[3]! - 0.0795954) < 1e-6);
  // PyTorch's get_lr() recursion (CosineAnnealingLR, chainable form), run independently.
  let lr = 0.1;
  const tMax = 10, eta = 0.001, base = 0.1;
  for (let e = 1; e <= 20; e++) {
    if ((e - 1 - tMax) % (2 * tMax) === 0) lr = lr + (base - eta) * (1 - Math.cos(Math.PI / tMax)) / 2;
    else lr = (1 + Math.cos(Math.PI * e / tMax)) / (1 + Math.cos(Math.PI * (e - 1) / tMax)) * (lr - eta) + eta;
    assert.ok(Math.abs(lrs[e]! - lr) < 1e-12, `epoch ${e}: ${lrs[e]} vs recursive ${lr}`);
  }
});

test('linear warm-up then cosine: SequentialLR(LinearLR, CosineAnnealingLR) values', () => {
  const opt = { lr: 0.3 };
  const s = createScheduler(opt, { name: 'cosine', warmupEpochs: 3 }, 13);
  assert.ok(s instanceof LinearWarmup);
  const lrs = sequence(s, opt, 13);
  near(lrs[0]!, 0.1, 'e0'); near(lrs[1]!, 0.3 * 5 / 9, 'e1'); near(lrs[2]!, 0.3 * 7 / 9, 'e2');
  near(lrs[3]!, 0.3, 'e3 (cosine starts)');
  near(lrs[8]!, 0.15, 'e8 (half-way through 10 cosine epochs)');
  assert.deepEqual(resolveSchedule({ name: 'cosine', warmupEpochs: 3 }, 13), { name: 'cosine', tMax: 10, etaMin: 0, warmupEpochs: 3, warmupStartFactor: 1 / 3 });
});

test('constant schedule; constructing a scheduler sets epoch 0\'s lr', () => {
  const opt = { lr: 0.2 };
  const s = new ConstantSchedule(opt);
  assert.deepEqual(sequence(s, opt, 4), [0.2, 0.2, 0.2, 0.2]);
  const o2 = { lr: 0.3 };
  createScheduler(o2, { name: 'cosine', warmupEpochs: 2, warmupStartFactor: 0.5 }, 10);
  near(o2.lr, 0.15, 'warm-up start');
});

test('state round trip: a restored scheduler sets the lr an uninterrupted one would', () => {
  const o1 = { lr: 0.1 }, o2 = { lr: 0.1 };
  const a = createScheduler(o1, { name: 'multistep', milestones: [2, 4], gamma: 0.5 }, 6);
  for (let e = 0; e < 3; e++) a.step();
  const b = createScheduler(o2, { name: 'multistep', milestones: [2, 4], gamma: 0.5 }, 6);
  b.loadStateDict(JSON.parse(JSON.stringify(a.stateDict())));
  assert.equal(o2.lr, o1.lr);
  assert.equal(b.lastEpoch, 3);
  a.step(); b.step();
  assert.equal(o2.lr, o1.lr);
  near(o2.lr, 0.025, 'after milestone 4');
  assert.throws(() => createScheduler({ lr: 0.2 }, { name: 'constant' }, 6).loadStateDict(a.stateDict()), /base lr/);
});

test('bad settings are refused with a message naming the field', () => {
  assert.throws(() => new CosineAnnealingLR({ lr: 0.1 }, 0), /tMax/);
  assert.throws(() => new MultiStepLR({ lr: 0.1 }, [1.5]), /milestones/);
  assert.throws(() => createScheduler({ lr: 0.1 }, { name: 'poly' } as never, 3), ScheduleError);
});
