// The command line of every bench entry point, as the `pai` command's: --help prints the flags, their
// defaults and examples with exit code 0; an unknown flag or a bad value is one `bench:` line on
// stderr naming the flag, exit code 2, no stack trace. Nothing here runs a benchmark: every call
// ends in flag parsing.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { assertUserError, runScript, type RunResult } from '../cli/run.js';

const BENCH = fileURLToPath(new URL('../../bench/', import.meta.url));

// Modules of the bench suites that are not run on their own (`npm run bench -- --suite engine`).
const LIBRARIES = ['common', 'engine'];

interface Entry {
  /** Flags --help must name. */
  flags: string[];
  /** A number flag given a value that is not a number, and one out of its range. */
  notNumber: [string, string];
  outOfRange: [string, string];
}

const ENTRIES: Record<string, Entry> = {
  main: {
    flags: ['--suite', '--json', '--threads', '--backend', '--reps', '--js-reps', '--skip', '--models', '--batches', '--eval-models', '--eval-batch',
      '--hvp-batch', '--criteria', '--samples', '--measure-samples', '--measure-iterations', '--images', '--sparsities', '--sparse-models', '--sparse-parts'],
    notNumber: ['--reps', 'five'], outOfRange: ['--threads', '0'],
  },
  eval: { flags: ['--models', '--batch', '--reps', '--backend', '--threads', '--json'], notNumber: ['--batch', '12x'], outOfRange: ['--reps', '0'] },
  hvp: { flags: ['--model', '--batch', '--reps', '--backend', '--threads', '--json'], notNumber: ['--batch', 'abc'], outOfRange: ['--batch', '-4'] },
  loader: { flags: ['--images', '--json'], notNumber: ['--images', '1e'], outOfRange: ['--images', '0'] },
  prune: {
    flags: ['--criteria', '--samples', '--measure-samples', '--synflow-iterations', '--measure-iterations', '--sparsity', '--compute-batch', '--compare', '--reps', '--json'],
    notNumber: ['--samples', 'many'], outOfRange: ['--sparsity', '1.5'],
  },
  sparse: {
    flags: ['--reps', '--batch', '--sparsities', '--parts', '--models', '--threads', '--json'],
    notNumber: ['--sparsities', '0.5,high'], outOfRange: ['--sparsities', '0.9,1'],
  },
  'train-step': {
    flags: ['--models', '--batches', '--reps', '--profile', '--backend', '--threads', '--json'],
    notNumber: ['--batches', '64,x'], outOfRange: ['--threads', '1.5'],
  },
  race: {
    flags: ['--table', '--rounds', '--reps', '--models', '--criteria', '--samples', '--measure-samples', '--threads', '--json'],
    notNumber: ['--rounds', 'four'], outOfRange: ['--measure-samples', '0'],
  },
  hutchinson: { flags: ['--probes', '--seeds', '--seed-probes', '--budget-s', '--json'], notNumber: ['--budget-s', 'soon'], outOfRange: ['--probes', '10,0'] },
  memory: { flags: ['--model', '--width', '--steps', '--batch', '--threads'], notNumber: ['--steps', 'lots'], outOfRange: ['--width', '0'] },
};

const bench = (file: string, args: string[]): Promise<RunResult> => runScript(`${BENCH}${file}.js`, args);

function assertBenchError(r: RunResult, pattern: RegExp, label: string): void {
  assertUserError(r, pattern, label, 'bench');
  assert.equal(r.stdout, '', `${label}: nothing on stdout`);
}

test('every compiled bench script is either a tested entry point or a suite module', () => {
  const files = readdirSync(BENCH).filter((f) => f.endsWith('.js')).map((f) => f.slice(0, -3)).sort();
  assert.deepEqual(files, [...Object.keys(ENTRIES), ...LIBRARIES].sort());
});

for (const [file, e] of Object.entries(ENTRIES)) {
  test(`dist/bench/${file}.js: --help, an unknown flag, a value that is not a number, one out of range`, async () => {
    const [help, unknown, nan, range] = await Promise.all([
      bench(file, ['--help']),
      bench(file, ['--no-such-flag']),
      bench(file, e.notNumber),
      bench(file, e.outOfRange),
    ]);

    assert.equal(help.code, 0, `--help: exit code (stderr: ${help.stderr})`);
    assert.equal(help.stderr, '', '--help: nothing on stderr');
    assert.match(help.stdout, new RegExp(`^Usage: node dist/bench/${file}\\.js \\[options\\]`));
    for (const f of [...e.flags, '--help']) assert.match(help.stdout, new RegExp(`^\\s+(-\\w, )?${f}\\b`, 'm'), `--help names ${f}`);
    assert.match(help.stdout, /\(default: /, '--help shows defaults');
    assert.match(help.stdout, new RegExp(`\\nExamples:\\n\\s+\\$ (node dist/bench/${file}\\.js|npm run bench)`), '--help has examples');

    assertBenchError(unknown, /unknown option '--no-such-flag'/, 'unknown flag');
    assertBenchError(nan, new RegExp(`${e.notNumber[0]} must be`), `${e.notNumber.join(' ')}`);
    assertBenchError(range, new RegExp(`${e.outOfRange[0]} must be`), `${e.outOfRange.join(' ')}`);
  });
}

test('a missing value and a value outside a flag\'s choices name the flag', async () => {
  const [missing, choice, name] = await Promise.all([
    bench('train-step', ['--reps']),
    bench('train-step', ['--backend', 'gpu']),
    bench('main', ['--suite', 'train,nope']),
  ]);
  assertBenchError(missing, /'--reps <n>' argument missing/, '--reps without a value');
  assertBenchError(choice, /'--backend <which>' argument 'gpu' is invalid/, '--backend gpu');
  assertBenchError(name, /--suite must be one of .*got "nope"/, '--suite nope');
});
