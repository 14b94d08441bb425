// Bad experiment configs and foreign weights through the command line, as a user meets them: one
// `pai:` line naming the field (or the keys), exit code 2, no stack trace, and nothing written to
// the store. The schema's own messages are tested in test/experiment/config.test.ts; this checks
// that they reach the user intact from `pai run`.

import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createModel } from '../../src/models/registry.js';
import { saveStateDict } from '../../src/nn/serialize.js';
import { writeSafetensors } from '../../src/tensor/safetensors.js';
import { assertUserError, pai, scratch } from '../cli/run.js';

const here = dirname(fileURLToPath(import.meta.url));
const fixtures = join(here, '..', '..', '..', 'test', 'experiment', 'fixtures');

const GOOD = {
  name: 'bad-config',
  grid: { datasets: ['fashion-mnist-subset'], models: [{ name: 'lenet5', width: 0.5 }], criteria: ['snip'], sparsities: [0.9], seeds: [0] },
  data: { batchSize: 32, trainPerClass: 10, testPerClass: 5 },
  training: { epochs: 1, optimizer: { name: 'sgd', lr: 0.05, momentum: 0.9 } },
};

/** GOOD with the value at `path` replaced (or deleted, for undefined). */
function edit(path: (string | number)[], value: unknown, base: object = GOOD): object {
  const copy = structuredClone(base) as Record<string | number, unknown>;
  let o = copy;
  for (const k of path.slice(0, -1)) o = o[k] as Record<string | number, unknown>;
  if (value === undefined) delete o[path[path.length - 1]!];
  else o[path[path.length - 1]!] = value;
  return copy;
}

describe('pai run: config errors name the field, exit 2, no store written', () => {
  const dir = scratch('pai-config-errors-');
  const store = join(dir, 'store');
  const cases: [string, object | string, RegExp][] = [
    ['unknown key', { ...GOOD, colour: 'red' }, /colour: unknown key/],
    ['unknown nested key', edit(['training', 'optimizer', 'weight_decay'], 5e-4), /training\.optimizer\.weight_decay: unknown key/],
    ['wrong type: epochs as a string', edit(['training', 'epochs'], '3'), /training\.epochs: expected number, got string "3"/],
    ['wrong type: lr as a string', edit(['training', 'optimizer', 'lr'], 'fast'), /training\.optimizer\.lr: expected number, got string "fast"/],
    ['wrong type: sparsities not a list', edit(['grid', 'sparsities'], 0.9), /grid\.sparsities/],
    ['sparsity 1', edit(['grid', 'sparsities'], [0.5, 1]), /grid\.sparsities\[1\]: must be in \[0, 1\)/],
    ['sparsity below 0', edit(['grid', 'sparsities'], [-0.1]), /grid\.sparsities\[0\]: must be in \[0, 1\)/],
    ['negative epochs', edit(['training', 'epochs'], -2), /training\.epochs: must be a positive integer/],
    ['missing epochs', edit(['training', 'epochs'], undefined), /training\.epochs: required/],
    ['unknown criterion', edit(['grid', 'criteria'], ['snip', 'snipp']), /grid\.criteria\[1\]: unknown criterion "snipp"/],
    ['unknown model', edit(['grid', 'models'], [{ name: 'resnet21' }]), /grid\.models\[0\]\.name: unknown model "resnet21"/],
    ['unknown dataset', edit(['grid', 'datasets'], ['cifar11']), /grid\.datasets\[0\]: unknown dataset "cifar11"/],
    ['not JSON', '{ "name": "x", ', /not valid JSON/],
  ];
  for (const [label, config, pattern] of cases) {
    test(label, async () => {
      const file = join(dir, `${label.replace(/\W+/g, '-')}.json`);
      writeFileSync(file, typeof config === 'string' ? config : JSON.stringify(config));
      const r = await pai(['run', file, '--store', store]);
      assertUserError(r, pattern, label);
      assert.ok(r.stderr.includes(basename(file)), `${label}: the file is named`);
      assert.equal(existsSync(store), false, `${label}: nothing written`);
    });
  }

  test("the paper's config format: sparsity and criterion errors", async () => {
    const paper = JSON.parse(readFileSync(join(fixtures, 'paper_exp_hts.json'), 'utf8')) as object;
    const a = join(dir, 'paper-sparsity.json'), b = join(dir, 'paper-class.json');
    writeFileSync(a, JSON.stringify(edit(['training', 'compressor', 'sparsity'], 1.5, paper)));
    writeFileSync(b, JSON.stringify(edit(['training', 'compressor', 'class'], 'hutch', paper)));
    assertUserError(await pai(['run', a, '--store', store]), /training\.compressor\.sparsity: must be in \[0, 1\)/, 'paper sparsity');
    assertUserError(await pai(['run', b, '--store', store]), /training\.compressor\.class: unknown criterion "hutch"/, 'paper criterion');
    assert.equal(existsSync(store), false);
  });

  test('a folder of configs with one bad file names that file, and runs none of them', async () => {
    const folder = join(dir, 'folder');
    mkdirSync(folder);
    writeFileSync(join(folder, 'a.json'), JSON.stringify(GOOD));
    writeFileSync(join(folder, 'b.json'), JSON.stringify(edit(['grid', 'sparsities'], [1.2])));
    assertUserError(await pai(['run', folder, '--store', store]), /b\.json: grid\.sparsities\[0\]: must be in \[0, 1\)/, 'folder');
    assert.equal(existsSync(store), false);
  });
});

describe('pai score --weights with a state dict from another model', () => {
  const dir = scratch('pai-foreign-weights-');
  const data = join(dir, 'batch.safetensors');
  before(() => {
    saveStateDict(join(dir, 'resnet20.safetensors'), createModel('resnet20', { width: 0.25, inChannels: 1 }));
    saveStateDict(join(dir, 'mlp.safetensors'), createModel('mlp'));
    const n = 4;
    writeSafetensors(data, {
      x: { dtype: 'F32', shape: [n, 1, 28, 28], data: new Float32Array(n * 28 * 28).map((_, i) => Math.sin(i)) },
      y: { dtype: 'I64', shape: [n], data: BigInt64Array.from([0n, 1n, 2n, 3n]) },
    });
  });
  const score = (weights: string): string[] => ['score', '--model', 'lenet5', '--weights', join(dir, weights), '--data', data, '--criterion', 'snip', '--out', join(dir, 'out.safetensors')];

  test('other names: the missing and unexpected keys are named', async () => {
    const r = await pai(score('resnet20.safetensors'));
    assertUserError(r, /resnet20\.safetensors.*missing keys: conv1\.weight.*fc3\.bias.*unexpected keys: conv\.weight.*blocks\.0\.conv1\.weight/, 'resnet20 into lenet5');
    assert.equal(existsSync(join(dir, 'out.safetensors')), false);
  });

  test('same names, other shapes: each mismatch is named with both shapes', async () => {
    const r = await pai(score('mlp.safetensors'));
    assertUserError(r, /mlp\.safetensors.*missing keys: conv1\.weight.*fc1\.weight: file has \[300, 784\], model has \[120, 256\]/, 'mlp into lenet5');
  });
});
