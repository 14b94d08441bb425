// Shape and dtype errors name the op and the shapes (or dtypes) involved, because a mismatch deep
// inside a model is otherwise hard to trace back to the layer that caused it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor } from '../../src/tensor/tensor.js';
import { zeros } from '../../src/tensor/create.js';
import * as F from '../../src/autograd/index.js';

const t32 = (...s: number[]): Tensor => zeros(s);
const t64 = (...s: number[]): Tensor => zeros(s, { dtype: 'float64' });
const str = (s: number[]): string => `[${s.join(', ')}]`;

/** fn throws, and its message contains every one of `parts`. */
function throwsWith(fn: () => unknown, parts: (string | RegExp)[]): void {
  let msg: string | null = null;
  try {
    fn();
  } catch (e) {
    msg = (e as Error).message;
  }
  assert.ok(msg !== null, `expected an error mentioning ${parts.join(', ')}, nothing was thrown`);
  for (const p of parts) {
    const ok = typeof p === 'string' ? msg.includes(p) : p.test(msg);
    assert.ok(ok, `error message ${JSON.stringify(msg)} does not mention ${p}`);
  }
}

test('add/sub/mul/div of non-broadcastable shapes name the op and both shapes', () => {
  throwsWith(() => F.add(t32(2, 3), t32(4)), ['add', str([2, 3]), str([4])]);
  throwsWith(() => F.sub(t32(2, 3), t32(3, 2)), ['sub', str([2, 3]), str([3, 2])]);
  throwsWith(() => F.mul(t64(5), t64(2, 4)), ['mul', str([5]), str([2, 4])]);
  throwsWith(() => F.div(t64(2, 2, 3), t64(2, 3, 3)), ['div', str([2, 2, 3]), str([2, 3, 3])]);
});

test('matmul inner-dimension mismatch names the op and both shapes', () => {
  throwsWith(() => F.matmul(t32(2, 3), t32(4, 5)), ['matmul', str([2, 3]), str([4, 5])]);
  throwsWith(() => F.matmul(t64(2, 2, 3), t64(2, 4, 5)), ['matmul', str([2, 2, 3]), str([2, 4, 5])]);
  throwsWith(() => F.matmul(t64(3), t64(4)), ['matmul', str([3]), str([4])]);
  throwsWith(() => F.matmul(t64(2, 3, 4), t64(3, 4, 2)), ['matmul', str([2, 3, 4]), str([3, 4, 2])]);
});

test('conv2d channel mismatch names the op and both shapes', () => {
  throwsWith(() => F.conv2d(t32(1, 3, 5, 5), t32(4, 2, 3, 3)), ['conv2d', str([1, 3, 5, 5]), str([4, 2, 3, 3])]);
  throwsWith(() => F.conv2d(t32(1, 4, 5, 5), t32(4, 3, 3, 3), null, { groups: 2 }), ['conv2d', /groups/]);
  throwsWith(() => F.conv2d(t32(1, 3, 5, 5), t32(4, 3, 3, 3), t32(5)), ['conv2d', str([5]), '4']);
  throwsWith(() => F.conv2d(t32(3, 5, 5), t32(4, 3, 3, 3)), ['conv2d', str([3, 5, 5])]);
});

test('linear feature mismatch names the op and both shapes', () => {
  throwsWith(() => F.linear(t32(2, 3), t32(5, 4)), ['linear', str([2, 3]), str([5, 4])]);
  throwsWith(() => F.linear(t32(2, 4), t32(5, 4), t32(6)), ['linear', str([6])]);
});

test('crossEntropy: label count and out-of-range labels', () => {
  throwsWith(() => F.crossEntropy(t64(2, 4), [1, 2, 3]), [/cross_?entropy/i, '3', str([2, 4])]);
  throwsWith(() => F.crossEntropy(t64(2, 4), [1, 4]), [/cross_?entropy/i, '4']);
  throwsWith(() => F.crossEntropy(t64(2, 4), [-1, 0]), [/cross_?entropy/i, '-1']);
  throwsWith(() => F.crossEntropy(t64(2, 4), [0.5, 0]), [/cross_?entropy/i, '0.5']);
  throwsWith(() => F.crossEntropy(t64(2, 4), t64(2, 3)), [/cross_?entropy/i, str([2, 3]), str([2, 4])]);
});

test('reshape to a wrong size and concat mismatch name the op and the shapes', () => {
  throwsWith(() => F.reshape(t32(2, 3), [4, 2]), ['reshape', str([2, 3]), str([4, 2])]);
  throwsWith(() => F.reshape(t32(2, 3), [-1, 4]), ['reshape', str([2, 3]), str([-1, 4])]);
  throwsWith(() => F.concat([t32(2, 3), t32(3, 4)], 0), ['concat', str([2, 3]), str([3, 4])]);
  throwsWith(() => F.concat([t32(2, 3), t32(2, 3, 1)], 1), ['concat', str([2, 3]), str([2, 3, 1])]);
  throwsWith(() => F.expand(t32(2, 3), [4, 3]), ['expand', str([2, 3]), str([4, 3])]);
});

test('dtype mismatch (float32 with float64) names the op and both dtypes', () => {
  for (const [name, fn] of [
    ['add', () => F.add(t32(2), t64(2))],
    ['mul', () => F.mul(t64(2, 2), t32(2))],
    ['matmul', () => F.matmul(t32(2, 3), t64(3, 2))],
    ['conv2d', () => F.conv2d(t64(1, 1, 3, 3), t32(1, 1, 2, 2))],
    ['concat', () => F.concat([t32(2), t64(2)])],
  ] as const) {
    throwsWith(fn, [name, 'float32', 'float64']);
  }
});
