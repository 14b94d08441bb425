// training.sparseExecution in a grid config: validated like its neighbours, carried in the study's
// environment (how runs are computed), and no part of any run's identity.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, parseConfig } from '../../src/experiment/config.js';
import { gridConfig } from './helpers.js';

function withSparse(v: unknown): Record<string, unknown> {
  const g = structuredClone(gridConfig());
  (g['training'] as Record<string, unknown>)['sparseExecution'] = v;
  return g;
}

test('training.sparseExecution: true, an object with minSparsity, or absent', () => {
  const plain = parseConfig(gridConfig(), 'c.json');
  assert.equal(plain.env.sparseExecution, undefined);
  assert.deepEqual(parseConfig(withSparse(true), 'c.json').env.sparseExecution, { minSparsity: 0.9 });
  assert.deepEqual(parseConfig(withSparse({ minSparsity: 0.95 }), 'c.json').env.sparseExecution, { minSparsity: 0.95 });
  assert.equal(parseConfig(withSparse(false), 'c.json').env.sparseExecution, undefined);
  // The same runs, whatever the execution.
  assert.deepEqual(parseConfig(withSparse(true), 'c.json').runs.map((r) => r.id), plain.runs.map((r) => r.id));
});

test('training.sparseExecution: bad values name the field', () => {
  for (const bad of ['yes', { minSparsity: 1.5 }, { minSparsity: 0.9, extra: 1 }, 3]) {
    assert.throws(() => parseConfig(withSparse(bad), 'c.json'), (e: unknown) => e instanceof ConfigError && /training\.sparseExecution/.test((e as Error).message), JSON.stringify(bad));
  }
});
