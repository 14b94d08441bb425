// `pai demo`: the README's main job. Nine criteria at two sparsities, with and without the BN
// warm-up, on the shipped Fashion-MNIST subset; prints the table and writes the report and plots.

import type { Command } from 'commander';
import { examples, parseInteger } from '../options.js';
import { asUserErrors, studyEvents } from './run.js';

export function register(program: Command): void {
  const cmd = program.command('demo')
    .description('prune and train a small CNN on the shipped Fashion-MNIST subset with nine criteria; print the table, write the report and plots')
    .option('--out <dir>', 'output folder (report.md, plots, and the results store under store/)', 'pai-demo')
    .option('--epochs <e>', 'training epochs per run (default 3)')
    .option('--quick', 'a smoke-test size: a few images per class, one epoch, lighter scoring (about a minute)')
    .addHelpText('after', `
The model is ResNet-20 at width 1/4 (4-8-16 channels, batch norm) on 28x28 images, 150 training
images per class (10% held out for model selection) and 50 test images per class of the subset;
each data-dependent criterion scores 3 images per class at mask batch 1. 36 runs, about 5 minutes with
the native backend on 2 cores; PAI_BACKEND=js runs the same, slower. Rerunning skips finished runs.`)
    .action(async (f: { out: string; epochs?: string; quick?: boolean }, command: Command) => asUserErrors(async () => {
      const quiet = Boolean(command.optsWithGlobals<{ quiet?: boolean }>().quiet);
      const { runDemo } = await import('../../experiment/demo.js');
      const { runLabel } = await import('../../experiment/runner.js');
      const { backendInfo } = await import('../../kernels/index.js');
      const b = backendInfo();
      if (!quiet) process.stderr.write(`pai demo: backend ${b.name} (${b.reason}), ${b.threads} thread(s); output in ${f.out}\n`);
      const r = await runDemo(f.out, {
        ...(f.epochs !== undefined ? { epochs: parseInteger('--epochs', f.epochs, 1) } : {}),
        quick: f.quick ?? false,
        events: studyEvents(quiet, runLabel),
      });
      process.stdout.write(`\n${r.table}\n`);
      const png = r.report.files.filter((x) => x.endsWith('.png'));
      process.stdout.write(`report: ${r.report.files[0]}\nplots: ${png.join(', ')}\n${r.rows.length} runs in ${r.seconds.toFixed(0)} s\n`);
    }));
  examples(cmd, ['pai demo', 'pai demo --out /tmp/demo --epochs 5', 'pai demo --quick', 'PAI_BACKEND=js pai demo --quick']);
}
