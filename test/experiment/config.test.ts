import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { canonicalJson, ConfigError, loadConfig, parseConfig, runId } from '../../src/experiment/config.js';
import { gridConfig } from './helpers.js';

// Tests run from dist/test/experiment; fixtures and configs stay in the source tree.
const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..', '..');
const fixtures = join(root, 'test', 'experiment', 'fixtures');

function errorOf(raw: unknown): string {
  try {
    parseConfig(raw, 'c.json');
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${(e as Error).name}`);
    return (e as Error).message;
  }
  assert.fail('the config was accepted');
}

function withPath(obj: Record<string, unknown>, path: string[], value: unknown): Record<string, unknown> {
  const copy = structuredClone(obj);
  let o = copy as Record<string, unknown>;
  for (const k of path.slice(0, -1)) o = o[k] as Record<string, unknown>;
  if (value === undefined) delete o[path[path.length - 1]!];
  else o[path[path.length - 1]!] = value;
  return copy;
}

test('schema errors name the field', () => {
  const g = gridConfig();
  assert.match(errorOf({ ...g, colour: 'red' }), /colour: unknown key/);
  assert.match(errorOf(withPath(g, ['training', 'optimizer', 'weight_decay'], 0.1)), /training\.optimizer\.weight_decay: unknown key/);
  assert.match(errorOf(withPath(g, ['training', 'epochs'], '3')), /training\.epochs: expected number, got string "3"/);
  assert.match(errorOf(withPath(g, ['training', 'epochs'], -2)), /training\.epochs: must be a positive integer/);
  assert.match(errorOf(withPath(g, ['training', 'epochs'], 1.5)), /training\.epochs: must be a positive integer/);
  assert.match(errorOf(withPath(g, ['training', 'epochs'], undefined)), /training\.epochs: required/);
  assert.match(errorOf(withPath(g, ['grid', 'sparsities'], [0.5, 1])), /grid\.sparsities\[1\]: must be in \[0, 1\)/);
  assert.match(errorOf(withPath(g, ['grid', 'sparsities'], [-0.1])), /grid\.sparsities\[0\]: must be in \[0, 1\)/);
  assert.match(errorOf(withPath(g, ['grid', 'criteria'], ['snip', 'snipp'])), /grid\.criteria\[1\]: unknown criterion "snipp"/);
  assert.match(errorOf(withPath(g, ['grid', 'models'], ['resnet21'])), /grid\.models\[0\]: unknown model "resnet21"/);
  assert.match(errorOf(withPath(g, ['grid', 'models'], [{ name: 'resnet21' }])), /grid\.models\[0\]\.name: unknown model "resnet21"/);
  assert.match(errorOf(withPath(g, ['grid', 'datasets'], ['cifar11'])), /grid\.datasets\[0\]: unknown dataset "cifar11"/);
  assert.match(errorOf(withPath(g, ['grid', 'seeds'], [])), /grid\.seeds: must list at least one value/);
  assert.match(errorOf(withPath(g, ['training', 'optimizer'], { name: 'rmsprop', lr: 1 })), /training\.optimizer\.name: must be "sgd" or "adamw", got string "rmsprop"/);
  assert.match(errorOf(withPath(g, ['training', 'schedule'], { name: 'multistep' })), /training\.schedule\.milestones: required/);
  assert.match(errorOf(withPath(g, ['pruning'], { scope: 'local' })), /pruning\.scope: must be one of "global", "layer", got string "local"/);
  // Several problems are all reported at once.
  const many = errorOf(withPath(withPath(g, ['training', 'epochs'], 0), ['grid', 'criteria'], ['nope']));
  assert.match(many, /training\.epochs/);
  assert.match(many, /grid\.criteria\[0\]/);
  assert.match(errorOf([]), /must be a JSON object/);
  assert.match(errorOf({ runs: [] }), /neither a grid config/);
});

test('paper config errors name the field', () => {
  const paper = loadConfig(join(fixtures, 'paper_exp_hts.json')).raw as Record<string, unknown>;
  assert.match(errorOf(withPath(paper, ['training', 'compressor', 'sparsity'], 1.5)), /training\.compressor\.sparsity: must be in \[0, 1\)/);
  assert.match(errorOf(withPath(paper, ['training', 'compressor', 'class'], 'hutch')), /training\.compressor\.class: unknown criterion "hutch"/);
  assert.match(errorOf(withPath(paper, ['training', 'num_steps'], -1)), /training\.num_steps: must be a positive integer/);
  assert.match(errorOf(withPath(paper, ['model', 'class'], 'VGG20')), /model\.class: unknown model "VGG20"/);
  assert.match(errorOf(withPath(paper, ['dataset', 'class'], 'svhn')), /dataset\.class: unknown dataset "svhn"/);
  assert.match(errorOf(withPath(paper, ['general', 'seeed'], 1)), /general\.seeed: unknown key/);
  assert.match(errorOf(withPath(paper, ['model', 'num_classes'], 100)), /model\.num_classes: 100, but cifar10 has 10 classes/);
});

test("the paper's config files load as they are", () => {
  const hts = loadConfig(join(fixtures, 'paper_exp_hts.json'));
  assert.equal(hts.form, 'paper');
  assert.equal(hts.name, 'exp_hts');
  assert.equal(hts.runs.length, 1);
  const s = hts.runs[0]!.settings;
  assert.equal(s.dataset, 'cifar10');
  assert.equal(s.model, 'resnet18');
  assert.equal(s.criterion, 'hts');
  assert.equal(s.sparsity, 0.9);
  assert.equal(s.warmup, false);
  assert.equal(s.maskPerClass, 10);
  assert.equal(s.maskBatchSize, 1);
  assert.equal(s.batchSize, 512);
  assert.equal(s.epochs, 5);
  assert.deepEqual(s.optimizer, { name: 'sgd', lr: 0.03, momentum: 0.9, weightDecay: 0.0005 });
  assert.deepEqual(s.schedule, { name: 'multistep', milestones: [80, 120], gamma: 0.2 });
  assert.equal(s.scope, 'global');

  const base = loadConfig(join(fixtures, 'paper_exp_baseline.json'));
  assert.equal(base.runs[0]!.settings.criterion, 'none');
  assert.equal(base.runs[0]!.settings.sparsity, 0);
  assert.equal(loadConfig(join(fixtures, 'paper_exp_synflow.json')).runs[0]!.settings.criterion, 'synflow');

  // The paper's names for VGG and its warm-up flag.
  const raw = structuredClone(hts.raw) as { model: { class: string }; training: { compressor: { warmup: number } } };
  raw.model.class = 'VGG19';
  raw.training.compressor.warmup = 1;
  const vgg = parseConfig(raw).runs[0]!.settings;
  assert.equal(vgg.model, 'vgg19');
  assert.equal(vgg.warmup, true);
});

test('every shipped config in configs/ loads', () => {
  const dir = join(root, 'configs');
  const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
  assert.ok(files.length >= 5, `configs/ has ${files.length} configs`);
  for (const f of files) {
    const study = loadConfig(join(dir, f));
    assert.ok(study.runs.length > 0, `${f} expands to no run`);
  }
  const r18 = loadConfig(join(dir, 'cifar10-resnet18.json'));
  const s = r18.runs[0]!.settings;
  assert.deepEqual(s.optimizer, { name: 'sgd', lr: 0.03, momentum: 0.9, weightDecay: 5e-4 });
  assert.deepEqual(s.schedule, { name: 'multistep', milestones: [80, 120], gamma: 0.2 });
  assert.equal(s.epochs, 160);
  assert.equal(s.batchSize, 512);
  assert.equal(s.maskPerClass, 10);
  assert.equal(s.maskBatchSize, 1);
});

test('grid expansion: count and order', () => {
  const study = parseConfig(gridConfig({ grid: { datasets: ['fashion-mnist-subset'], models: ['lenet5', { name: 'resnet20', width: 0.25 }], criteria: ['none', 'snip', 'hts'], sparsities: [0.9, 0.98], seeds: [0, 1], warmup: [false, true] } }));
  // Per model: "none" once per seed (2), each criterion 2 sparsities x 2 warm-ups x 2 seeds (8).
  assert.equal(study.runs.length, 2 * (2 + 2 * 8));
  const key = (i: number) => { const s = study.runs[i]!.settings; return `${s.model}/${s.criterion}/${s.sparsity}/${s.warmup}/${s.seed}`; };
  assert.deepEqual([0, 1, 2, 3, 4, 5, 17, 18].map(key), [
    'lenet5/none/0/false/0', 'lenet5/none/0/false/1',
    'lenet5/snip/0.9/false/0', 'lenet5/snip/0.9/false/1', 'lenet5/snip/0.9/true/0', 'lenet5/snip/0.9/true/1',
    'lenet5/hts/0.98/true/1', 'resnet20/none/0/false/0',
  ]);
  study.runs.forEach((r, i) => assert.equal(r.index, i));
  assert.equal(study.runs[18]!.settings.width, 0.25);
  assert.equal(new Set(study.runs.map((r) => r.id)).size, study.runs.length);
  // Fashion-MNIST is 1x28x28: VGG gets 32x32 by padding, LeNet keeps 28.
  const vgg = parseConfig(gridConfig({ grid: { datasets: ['fashion-mnist'], models: ['vgg11', 'lenet5'], criteria: ['snip'], sparsities: [0.9], seeds: [0] } }));
  assert.deepEqual(vgg.runs.map((r) => [r.settings.imageSize, r.settings.padTo32, r.settings.inChannels]), [[32, true, 1], [28, false, 1]]);
});

test('run ids are stable hashes of the settings', () => {
  const a = parseConfig(gridConfig());
  const b = parseConfig(gridConfig({ name: 'renamed', description: 'another name, same runs' }));
  assert.deepEqual(a.runs.map((r) => r.id), b.runs.map((r) => r.id));
  // Key order in the file does not matter.
  const g = gridConfig();
  const reordered = { training: g['training'], grid: g['grid'], name: g['name'] };
  assert.deepEqual(parseConfig(reordered).runs.map((r) => r.id), a.runs.map((r) => r.id));
  // A pinned value: changing the hash function or the settings' meaning must be deliberate.
  assert.equal(runId(a.runs[0]!.settings), a.runs[0]!.id);
  assert.match(a.runs[0]!.id, /^[0-9a-f]{16}$/);
  // Any setting change changes the id.
  const c = parseConfig(gridConfig({ training: { epochs: 3, optimizer: { name: 'sgd', lr: 0.05, momentum: 0.9 } } }));
  assert.notEqual(c.runs[0]!.id, a.runs[0]!.id);
  // Environment (data folder, workers) is not part of the identity.
  const d = parseConfig(gridConfig({ data: { dataDir: '/elsewhere', workers: 2 } }));
  assert.deepEqual(d.runs.map((r) => r.id), a.runs.map((r) => r.id));
  assert.equal(canonicalJson({ b: 1, a: [1, { d: 2, c: 3 }] }), '{"a":[1,{"c":3,"d":2}],"b":1}');
});
