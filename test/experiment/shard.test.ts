import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse, parseAllDocuments } from 'yaml';
import { ConfigError } from '../../src/experiment/config.js';
import { emitK8s, emitSlurm, jobName, parseShard, selectShard, shardFromEnv } from '../../src/experiment/shard.js';
import { studyOf } from './helpers.js';

test('shards partition the runs exactly: union = all, pairwise disjoint', () => {
  const runs = studyOf().runs;
  assert.equal(runs.length, 24);
  for (const n of [1, 2, 3, 5, 7, 24, 30]) {
    const slices = Array.from({ length: n }, (_, i) => selectShard(runs, { index: i, count: n }));
    const ids = slices.flat().map((r) => r.id);
    assert.equal(ids.length, runs.length, `N=${n}: ${ids.length} runs in the shards`);
    assert.deepEqual(new Set(ids), new Set(runs.map((r) => r.id)), `N=${n}: union`);
    // Deterministic: the same slice twice.
    assert.deepEqual(selectShard(runs, { index: n - 1, count: n }).map((r) => r.id), slices[n - 1]!.map((r) => r.id));
    // Balanced to within one run.
    const sizes = slices.map((s) => s.length);
    assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `N=${n}: sizes ${sizes}`);
  }
  assert.equal(selectShard(runs, null).length, runs.length);
});

test('--shard parsing', () => {
  assert.deepEqual(parseShard('2/5'), { index: 2, count: 5 });
  assert.deepEqual(parseShard(' 0 / 1 '), { index: 0, count: 1 });
  assert.throws(() => parseShard('5/5'), /index must be below the count/);
  assert.throws(() => parseShard('1/0'), /at least 1/);
  assert.throws(() => parseShard('a/b'), ConfigError);
  assert.throws(() => parseShard('1'), /i\/N/);
});

test('shard defaults from SLURM and Kubernetes environments', () => {
  assert.equal(shardFromEnv({}), null);
  assert.deepEqual(shardFromEnv({ SLURM_ARRAY_TASK_ID: '3', SLURM_ARRAY_TASK_COUNT: '8' }), { index: 3, count: 8, source: 'SLURM job array' });
  // --array=1-8 numbers tasks from 1.
  assert.deepEqual(shardFromEnv({ SLURM_ARRAY_TASK_ID: '8', SLURM_ARRAY_TASK_COUNT: '8', SLURM_ARRAY_TASK_MIN: '1' }), { index: 7, count: 8, source: 'SLURM job array' });
  assert.throws(() => shardFromEnv({ SLURM_ARRAY_TASK_ID: '3' }), /SLURM_ARRAY_TASK_COUNT/);
  assert.throws(() => shardFromEnv({ SLURM_ARRAY_TASK_ID: '9', SLURM_ARRAY_TASK_COUNT: '8' }), /outside the 8 shards/);
  assert.deepEqual(shardFromEnv({ JOB_COMPLETION_INDEX: '4', PAI_SHARD_COUNT: '6' }), { index: 4, count: 6, source: 'Kubernetes Indexed Job' });
  assert.deepEqual(shardFromEnv({ JOB_COMPLETION_INDEX: '4' }, 10), { index: 4, count: 10, source: 'Kubernetes Indexed Job' });
  assert.throws(() => shardFromEnv({ JOB_COMPLETION_INDEX: '4' }), /--shard-count N or set PAI_SHARD_COUNT/);
  assert.throws(() => shardFromEnv({ JOB_COMPLETION_INDEX: '6', PAI_SHARD_COUNT: '6' }), /outside the 6 shards/);
  assert.throws(() => shardFromEnv({ JOB_COMPLETION_INDEX: 'x', PAI_SHARD_COUNT: '6' }), /non-negative integer/);
});

test('the sbatch script has the right array range and command', () => {
  const text = emitSlurm({ config: '/data/study.json', store: '/scratch/results', count: 24, name: 'My Study', cpus: 4, time: '02:00:00', partition: 'cpu' });
  const lines = text.split('\n');
  assert.equal(lines[0], '#!/bin/bash');
  const directives = new Map(lines.filter((l) => l.startsWith('#SBATCH ')).map((l) => {
    const [k, ...v] = l.slice(8).split('=');
    return [k!, v.join('=')] as const;
  }));
  assert.equal(directives.get('--array'), '0-23');
  assert.equal(directives.get('--job-name'), 'pai-my-study');
  assert.equal(directives.get('--cpus-per-task'), '4');
  assert.equal(directives.get('--time'), '02:00:00');
  assert.equal(directives.get('--partition'), 'cpu');
  const cmd = lines.find((l) => l.startsWith('pai '));
  assert.ok(cmd, text);
  assert.match(cmd, /run \/data\/study\.json --store \/scratch\/results$/);
  // Every #SBATCH line comes before the first command, as sbatch requires.
  const firstCommand = lines.findIndex((l) => l !== '' && !l.startsWith('#'));
  const lastDirective = lines.map((l, i) => (l.startsWith('#SBATCH') ? i : -1)).reduce((a, b) => Math.max(a, b));
  assert.ok(lastDirective < firstCommand);
  assert.throws(() => emitSlurm({ config: 'a', store: 'b', count: 0, name: 'x' }), /at least one task/);
});

test('the Kubernetes manifest is an Indexed Job with the right completions', () => {
  const text = emitK8s({ config: 'study.json', store: 'results', count: 24, name: 'study', parallelism: 6, configFiles: { 'study.json': '{"a": 1}\n' }, image: 'registry.example/pai:0.1.0' });
  // The parsed YAML is checked field by field below; its shape is what the test asserts.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  type Doc = Record<string, any>;
  const docs = parseAllDocuments(text).map((d) => d.toJS() as Doc);
  assert.equal(docs.length, 2);
  const [cm, job] = docs as [Doc, Doc];
  assert.equal(cm['kind'], 'ConfigMap');
  assert.equal(cm['data']['study.json'], '{"a": 1}\n');
  assert.equal(job['apiVersion'], 'batch/v1');
  assert.equal(job['kind'], 'Job');
  assert.equal(job['spec']['completionMode'], 'Indexed');
  assert.equal(job['spec']['completions'], 24);
  assert.equal(job['spec']['parallelism'], 6);
  const c = job['spec']['template']['spec']['containers'][0];
  assert.equal(c['image'], 'registry.example/pai:0.1.0');
  assert.deepEqual(c['command'].slice(-4), ['run', '/config/study.json', '--store', '/results']);
  assert.deepEqual(c['env'], [{ name: 'PAI_SHARD_COUNT', value: '24' }]);
  assert.equal(job['spec']['template']['spec']['volumes'][0]['configMap']['name'], cm['metadata']['name']);
  // The count given to pai and the completions agree, so the shards cover the grid.
  assert.equal(Number(c['env'][0]!['value']), job['spec']['completions']);
  assert.equal(parse(text.split('---\n')[1]!)['spec']['completionMode'], 'Indexed');
  // Parallelism never exceeds completions.
  const small = parseAllDocuments(emitK8s({ config: 'a.json', store: 'r', count: 2, name: 'x', parallelism: 9, configFiles: { 'a.json': '{}' } }))[1]!.toJS();
  assert.equal(small.spec.parallelism, 2);
  assert.equal(jobName('Fashion MNIST / ResNet-20'), 'pai-fashion-mnist-resnet-20');
  // A real, multi-line config travels byte for byte.
  const file = JSON.stringify({ name: 'x', grid: { seeds: [0, 1] }, training: { epochs: 3 } }, null, 2) + '\n';
  const cm2 = parseAllDocuments(emitK8s({ config: 'x.json', store: 'r', count: 3, name: 'x', configFiles: { 'x.json': file } }))[0]!.toJS();
  assert.equal(cm2.data['x.json'], file);
});
