// Splitting a study over machines, and the job files for the schedulers researchers already have.
//
// Shard i of N takes the runs whose position in the expansion order is i modulo N. Round robin
// rather than contiguous blocks because the expansion groups runs by criterion, and criteria differ
// in cost by orders of magnitude (random vs Hutchinson), so blocks would leave some shards with all
// the slow runs. The order is fixed by the config alone, so every machine computes the same slices
// without talking to the others, and the slices of 0..N-1 partition the study.

import { basename, dirname, resolve } from 'node:path';
import { stringify } from 'yaml';
import { z } from 'zod';
import { checkOptions, is } from '../tensor/options.js';
import { ConfigError } from './config.js';
import { paiImage } from './version.js';

/** Shard `index` of `count`. */
export interface Shard { index: number; count: number }

/** "i/N" with 0 <= i < N. */
export function parseShard(text: string): Shard {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  if (!m) throw new ConfigError(`--shard must look like i/N (for example 0/4), got "${text}"`);
  const index = Number(m[1]), count = Number(m[2]);
  if (count < 1) throw new ConfigError(`--shard ${text}: the shard count must be at least 1`);
  if (index >= count) throw new ConfigError(`--shard ${text}: the index must be below the count (0..${count - 1})`);
  return { index, count };
}

function envInt(env: NodeJS.ProcessEnv, name: string): number | null {
  const v = env[name];
  if (v === undefined || v.trim() === '') return null;
  if (!/^\d+$/.test(v.trim())) throw new ConfigError(`${name}=${v}: expected a non-negative integer`);
  return Number(v.trim());
}

/** The environment variable that gives an Indexed Job's shard count (Kubernetes sets only the index). */
export const SHARD_COUNT_ENV = 'PAI_SHARD_COUNT';

/**
 * The shard a scheduler assigned to this process, if any:
 * - a SLURM job array: SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT (offset by
 *   SLURM_ARRAY_TASK_MIN, so `--array=1-8` works as well as `--array=0-7`);
 * - a Kubernetes Indexed Job: JOB_COMPLETION_INDEX, with the count from `countOverride`
 *   (--shard-count) or PAI_SHARD_COUNT.
 */
export function shardFromEnv(env: NodeJS.ProcessEnv = process.env, countOverride?: number): (Shard & { source: string }) | null {
  const task = envInt(env, 'SLURM_ARRAY_TASK_ID');
  if (task !== null) {
    const count = countOverride ?? envInt(env, 'SLURM_ARRAY_TASK_COUNT');
    if (count === null) throw new ConfigError('SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not; give --shard-count N');
    const index = task - (envInt(env, 'SLURM_ARRAY_TASK_MIN') ?? 0);
    if (index < 0 || index >= count) throw new ConfigError(`SLURM array task ${task} is outside the ${count} shards (SLURM_ARRAY_TASK_MIN=${env['SLURM_ARRAY_TASK_MIN'] ?? 0}); submit with --array=0-${count - 1}`);
    return { index, count, source: 'SLURM job array' };
  }
  const k8s = envInt(env, 'JOB_COMPLETION_INDEX');
  if (k8s !== null) {
    const count = countOverride ?? envInt(env, SHARD_COUNT_ENV);
    if (count === null) throw new ConfigError(`JOB_COMPLETION_INDEX is set (a Kubernetes Indexed Job) but the shard count is not: give --shard-count N or set ${SHARD_COUNT_ENV}`);
    if (k8s >= count) throw new ConfigError(`JOB_COMPLETION_INDEX ${k8s} is outside the ${count} shards`);
    return { index: k8s, count, source: 'Kubernetes Indexed Job' };
  }
  return null;
}

/** The items of a shard: those whose position modulo count is index (all without a shard). */
export function selectShard<T>(items: readonly T[], shard: Shard | null): T[] {
  if (!shard) return [...items];
  return items.filter((_, i) => i % shard.count === shard.index);
}

// ---- job files ----

/** Options of the job-file writers `emitSlurm` and `emitK8s`. */
export interface EmitOptions {
  /** The config file or folder the job runs, as the job's machines see it. */
  config: string;
  /** The results store, as the job's machines see it. */
  store: string;
  /** Array tasks / completions: usually the number of runs. */
  count: number;
  name: string;
  /** How the job invokes pai (default "pai"). */
  pai?: string;
  cpus?: number;
  /** SLURM: wall time per task (default 24:00:00). */
  time?: string;
  partition?: string;
  memory?: string;
  /**
   * The container image with pai (default for Kubernetes: {@link paiImage}, built from the
   * Dockerfile). SLURM runs the task in it through Apptainer when given, else the `pai` on the PATH.
   */
  image?: string;
  /** Kubernetes: pods at once, claim of the store volume. */
  parallelism?: number;
  storeClaim?: string;
  /** Kubernetes: the config files' contents, shipped in a ConfigMap (file name -> text). */
  configFiles?: Record<string, string>;
}

// count is only typed here: a count below one gets the job-specific message below.
const emitOptionsSchema = z.strictObject({
  config: z.string().min(1), store: z.string().min(1), count: z.number().int(), name: z.string(),
  pai: z.string().min(1).optional(), cpus: is.positiveInt.optional(), time: z.string().min(1).optional(),
  partition: z.string().min(1).optional(), memory: z.string().min(1).optional(), image: z.string().min(1).optional(),
  parallelism: is.positiveInt.optional(), storeClaim: z.string().min(1).optional(),
  configFiles: z.record(z.string(), z.string()).optional(),
});

function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** A name Kubernetes and SLURM both accept: lower-case alphanumerics and dashes. */
export function jobName(name: string): string {
  const n = `pai-${name}`.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/-+/g, '-').replace(/^-|-$/g, '');
  return n.slice(0, 52).replace(/-$/, '');
}

/**
 * An sbatch script for a job array of `count` tasks; each task runs `pai run` on the whole config,
 * and pai picks the task's shard from SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT. A task that is
 * requeued or resubmitted skips the runs already in the store and resumes the one it was in.
 */
export function emitSlurm(o: EmitOptions): string {
  checkOptions('emitSlurm', emitOptionsSchema, o);
  if (!Number.isInteger(o.count) || o.count < 1) throw new ConfigError(`a job array needs at least one task, got ${o.count}`);
  const name = jobName(o.name);
  const store = resolve(o.store), config = resolve(o.config);
  const pai = `${o.pai ?? 'pai'} --threads "\${SLURM_CPUS_PER_TASK:-${o.cpus ?? 2}}" run ${shellQuote(config)} --store ${shellQuote(store)}`;
  const command = o.image
    // Apptainer (Singularity) mounts only home and the working folder by itself.
    ? [`mkdir -p ${shellQuote(store)}`,
      `apptainer exec --bind ${shellQuote(store)} --bind ${shellQuote(dirname(config))} docker://${o.image} ${pai}`]
    : [`# Or in pai's container image (built from its Dockerfile): --emit slurm --image ${paiImage()} runs this through apptainer exec.`, pai];
  const lines = [
    '#!/bin/bash',
    `# Written by pai run --emit slurm for ${basename(o.config)}: ${o.count} array task(s), one shard each.`,
    '# Submit with: sbatch <this file>. Rerunning a task skips finished runs and resumes the interrupted one.',
    `#SBATCH --job-name=${name}`,
    `#SBATCH --array=0-${o.count - 1}`,
    '#SBATCH --ntasks=1',
    `#SBATCH --cpus-per-task=${o.cpus ?? 2}`,
    `#SBATCH --time=${o.time ?? '24:00:00'}`,
    ...(o.memory ? [`#SBATCH --mem=${o.memory}`] : []),
    ...(o.partition ? [`#SBATCH --partition=${o.partition}`] : []),
    // Relative to the submit folder: SLURM opens it before the script runs, so its folder must exist.
    '#SBATCH --output=%x-%A_%a.out',
    '#SBATCH --requeue',
    '',
    'set -euo pipefail',
    '# The shard comes from SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT.',
    ...command,
    '',
  ];
  return lines.join('\n');
}

/**
 * A Kubernetes ConfigMap with the config file(s) and an Indexed Job of `count` completions; pai
 * reads its shard from JOB_COMPLETION_INDEX and the count from PAI_SHARD_COUNT. The store is a
 * PersistentVolumeClaim (ReadWriteMany when pods land on several nodes) mounted at /results.
 */
export function emitK8s(o: EmitOptions): string {
  checkOptions('emitK8s', emitOptionsSchema, o);
  if (!Number.isInteger(o.count) || o.count < 1) throw new ConfigError(`an Indexed Job needs at least one completion, got ${o.count}`);
  const name = jobName(o.name);
  const files = o.configFiles ?? {};
  const single = Object.keys(files).length === 1;
  const configPath = single ? `/config/${Object.keys(files)[0]}` : '/config';
  const cpus = o.cpus ?? 2;
  const configMap = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: `${name}-config`, labels: { app: 'pai', study: name } },
    data: files,
  };
  const job = {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, labels: { app: 'pai', study: name } },
    spec: {
      completionMode: 'Indexed',
      completions: o.count,
      parallelism: Math.min(o.parallelism ?? o.count, o.count),
      // Retries resume: a restarted pod skips finished runs and continues the interrupted one.
      backoffLimit: Math.max(6, o.count),
      template: {
        metadata: { labels: { app: 'pai', study: name } },
        spec: {
          restartPolicy: 'OnFailure',
          containers: [{
            name: 'pai',
            image: o.image ?? paiImage(),
            command: [o.pai ?? 'pai', '--threads', String(cpus), 'run', configPath, '--store', '/results'],
            env: [{ name: 'PAI_SHARD_COUNT', value: String(o.count) }],
            resources: { requests: { cpu: String(cpus), ...(o.memory ? { memory: o.memory } : {}) } },
            volumeMounts: [
              { name: 'config', mountPath: '/config', readOnly: true },
              { name: 'results', mountPath: '/results' },
            ],
          }],
          volumes: [
            { name: 'config', configMap: { name: `${name}-config` } },
            { name: 'results', persistentVolumeClaim: { claimName: o.storeClaim ?? 'pai-results' } },
          ],
        },
      },
    },
  };
  return `# Written by pai run --emit k8s: ${o.count} completion(s), one shard each. Apply with: kubectl apply -f <this file>\n`
    // Literal blocks keep the config files' text (newlines, indentation) exactly as written.
    + `${stringify(configMap, { blockQuote: 'literal' })}---\n${stringify(job)}`;
}
