// The report's statistics: t intervals against tabulated quantiles, paired differences, verdicts,
// rank correlation with ties, and mask overlap.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fmtDifference, fmtInterval, maskIou, meanInterval, pairedDifference, pearson, ranks, spearman, tCritical, verdictOf } from '../../src/experiment/stats.js';

const close = (a: number, b: number, tol: number, what: string): void => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);

test('tCritical matches the tabulated two-sided 95 % and 99 % quantiles', () => {
  // Standard tables (e.g. any statistics textbook's t table), to 3 decimals.
  for (const [dof, q95, q99] of [[1, 12.706, 63.657], [2, 4.303, 9.925], [3, 3.182, 5.841], [4, 2.776, 4.604], [9, 2.262, 3.250], [30, 2.042, 2.750]] as const) {
    close(tCritical(0.95, dof), q95, 5e-4, `t(0.975, ${dof})`);
    close(tCritical(0.99, dof), q99, 5e-4, `t(0.995, ${dof})`);
  }
  assert.throws(() => tCritical(0.95, 0), /degrees of freedom/);
  assert.throws(() => tCritical(1, 3), /level/);
});

test('meanInterval: mean, sample std and the t half-width', () => {
  const iv = meanInterval([0.80, 0.82, 0.84]);
  assert.ok(iv);
  close(iv.mean, 0.82, 1e-12, 'mean');
  close(iv.std ?? NaN, 0.02, 1e-12, 'std');
  close(iv.half ?? NaN, 4.302652729 * 0.02 / Math.sqrt(3), 1e-9, 'half');
  close(iv.hi - iv.lo, 2 * (iv.half ?? NaN), 1e-12, 'width');
  const one = meanInterval([0.5]);
  assert.deepEqual([one?.half, one?.std, one?.lo, one?.hi], [null, null, 0.5, 0.5]);
  assert.equal(meanInterval([]), null);
  assert.throws(() => meanInterval([1, NaN]), /not finite/);
  assert.equal(fmtInterval(iv), '82.00 ± 4.97');
  assert.equal(fmtInterval(one, { maxN: 3 }), '50.00 (n=1)');
});

test('pairedDifference uses the shared seeds only and removes what the seeds share', () => {
  // Seed effects of ±5 points that both arms share: the cells overlap, the paired difference does not.
  const a = new Map([[0, 0.86], [1, 0.91], [2, 0.81], [3, 0.99]]);
  const b = new Map([[0, 0.85], [1, 0.90], [2, 0.795]]);
  const d = pairedDifference(a, b);
  assert.ok(d);
  assert.deepEqual(d.seeds, [0, 1, 2]);
  close(d.mean, (0.01 + 0.01 + 0.015) / 3, 1e-12, 'mean difference');
  assert.equal(verdictOf(d), 'supported');
  const cellA = meanInterval([0.86, 0.91, 0.81]), cellB = meanInterval([0.85, 0.90, 0.795]);
  assert.ok(cellA && cellB && cellA.lo < cellB.hi, 'the two cells overlap');
  assert.equal(verdictOf(pairedDifference(b, a)), 'refuted');
  assert.equal(verdictOf(pairedDifference(new Map([[0, 0.9], [1, 0.8]]), new Map([[0, 0.85], [1, 0.85]]))), 'not resolved');
  assert.equal(verdictOf(pairedDifference(new Map([[0, 0.9]]), new Map([[0, 0.8]]))), 'not resolved', 'one seed decides nothing');
  assert.equal(pairedDifference(new Map([[0, 1]]), new Map([[1, 1]])), null);
  assert.match(fmtDifference(d), /^\+1\.17 \[\+0\.\d\d, \+1\.\d\d\]$/);
  assert.equal(fmtDifference(pairedDifference(new Map([[0, 0.8]]), new Map([[0, 0.9]]))), '−10.00 (one seed)');
});

test('ranks average ties; spearman is 1 for any increasing map and handles ties', () => {
  assert.deepEqual([...ranks([10, 30, 20, 20])], [1, 4, 2.5, 2.5]);
  const x = [0.1, 5, 3, -2, 8, 7.5];
  close(spearman(x, x.map((v) => Math.exp(v))), 1, 1e-12, 'monotone');
  close(spearman(x, x.map((v) => -v * v * v)), -1, 1e-12, 'decreasing');
  // Spearman on ties equals Pearson on the averaged ranks, computed by hand: ranks a = [1, 2.5, 2.5, 4], b = [1, 2, 3, 4].
  close(spearman([1, 2, 2, 3], [1, 2, 3, 4]), pearson([1, 2.5, 2.5, 4], [1, 2, 3, 4]), 1e-12, 'ties');
  close(pearson([1, 2.5, 2.5, 4], [1, 2, 3, 4]), 4.5 / Math.sqrt(4.5 * 5), 1e-12, 'pearson by hand');
  assert.ok(Number.isNaN(spearman([1, 1, 1], [1, 2, 3])), 'a constant series has no correlation');
  assert.throws(() => spearman([1], [1, 2]), /lengths/);
});

test('maskIou', () => {
  assert.equal(maskIou([1, 1, 0, 0], [1, 0, 1, 0]), 1 / 3);
  assert.equal(maskIou([1, 0], [1, 0]), 1);
  assert.equal(maskIou([0, 0], [0, 0]), 1);
  assert.equal(maskIou(new Uint8Array([1, 0]), new Float32Array([0, 1])), 0);
});
