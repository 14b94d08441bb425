#!/usr/bin/env node
// The `pai` command: a thin layer over the library. Each command lives in commands/<name>.ts and
// exports register(program); adding one is an import and an entry in COMMANDS.
//
// Errors follow one rule: a user error (bad flag or value, missing or corrupt file, unknown name)
// is one line on stderr starting with `pai:` and exit code 2, commander's own parse errors
// included; anything else is a bug and is reported with its stack and exit code 1.

import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { oneLine, reportAndExit } from './errors.js';
import { parseInteger } from './options.js';
import { setProgressEnabled, stopAllTasks } from './progress.js';
import { paiVersion } from './version.js';
import * as info from './commands/info.js';
import * as models from './commands/models.js';
import * as inspect from './commands/inspect.js';
import * as criteria from './commands/criteria.js';
import * as score from './commands/score.js';
import * as mask from './commands/mask.js';
import * as warmup from './commands/warmup.js';
import * as prune from './commands/prune.js';
import * as data from './commands/data.js';
import * as exportCmd from './commands/export.js';
import * as run from './commands/run.js';
import * as merge from './commands/merge.js';
import * as report from './commands/report.js';
import * as analyze from './commands/analyze.js';
import * as demo from './commands/demo.js';

interface CommandModule { register(program: Command): void }

const COMMANDS: readonly CommandModule[] = [info, models, inspect, criteria, score, mask, warmup, prune, data, exportCmd, run, merge, report, analyze, demo];

export function buildProgram(): Command {
  const program = new Command('pai')
    .description('pruning at initialization with scalable second-order information (arXiv 2502.11450)')
    .version(paiVersion(), '-V, --version', 'print the version')
    .option('-q, --quiet', 'no progress output on stderr')
    .option('--threads <n>', 'compute threads of the native backend')
    // Set before any command is added: subcommands copy these settings when they are created.
    .exitOverride()
    .configureOutput({ outputError: () => { /* main() prints the one-line form */ } })
    .hook('preAction', async () => {
      const g = program.opts<{ quiet?: boolean; threads?: string }>();
      if (g.quiet) setProgressEnabled(false);
      if (g.threads !== undefined) {
        const n = parseInteger('--threads', g.threads, 1);
        // Loaded only when asked for, so commands that compute nothing never pick a backend.
        const { setNumThreads } = await import('../kernels/index.js');
        setNumThreads(n);
      }
    });
  for (const c of COMMANDS) c.register(program);
  program.addHelpText('after', `
Examples:
  $ pai models
  $ pai criteria
  $ pai prune --model lenet5 --dataset fashion-mnist-subset --criterion snip --sparsity 0.9 --out runs/lenet-snip
  $ pai score --model resnet18 --width 1/32 --weights model.safetensors --data batch.safetensors --criterion fisher_diag --out fd.safetensors

Run pai <command> --help for a command's flags and examples.`);
  return program;
}

export async function main(argv: readonly string[] = process.argv): Promise<void> {
  // A reader that stops early (`pai models | head`) closes the pipe: that ends the output, it is
  // not an error worth a stack trace.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
  const program = buildProgram();
  if (argv.length <= 2) {
    program.outputHelp();
    return;
  }
  try {
    await program.parseAsync([...argv]);
  } catch (e) {
    stopAllTasks();
    if (e instanceof CommanderError) {
      // --help and --version end here with exit code 0.
      if (e.exitCode === 0) return;
      // A command group run without a subcommand (pai data): commander has printed its help.
      if (e.code === 'commander.help') { process.exitCode = 2; return; }
      process.stderr.write(`pai: ${oneLine(e.message.replace(/^error:\s*/, ''))}\n`);
      process.exitCode = 2;
      return;
    }
    reportAndExit(e);
  }
}

// Run only as the entry point (directly or through npm's bin link), so tests can import buildProgram.
const entry = process.argv[1] ? realpathSync(process.argv[1]) : '';
if (entry === fileURLToPath(import.meta.url)) await main();
