// `pai demo`: the README's main job. The dense network and five criteria at 98 % sparsity with the
// BN warm-up, three paired seeds, on the shipped Fashion-MNIST subset; prints the accuracies with
// their intervals, the verdicts, the mask-level analysis and what they show, and writes the report.

import { join } from 'node:path';
import type { Command } from 'commander';
import { examples, parseInteger } from '../options.js';
import { asUserErrors, studyEvents } from './run.js';
import { startTask, type Task } from '../progress.js';

export function register(program: Command): void {
  const cmd = program.command('demo')
    .description('prune and train a small CNN on the shipped Fashion-MNIST subset with five criteria over three seeds; print what the run resolves, write the report and plots')
    .option('--out <dir>', 'output folder (report.md, plots, and the results store under store/)', 'pai-demo')
    .option('--epochs <e>', 'training epochs per run (default 3)')
    .option('--quick', 'a smoke-test size: a few images per class, one epoch, two seeds, lighter scoring (about a minute)')
    .addHelpText('after', `
The model is ResNet-20 at width 1/4 (4-8-16 channels, batch norm) on 28x28 images, 300 training
images per class (10% held out for model selection) and the subset's 1,000 test images; random,
magnitude, SNIP, SynFlow and hts prune 98% of its weights after the BN warm-up, each data-dependent
criterion scoring 3 images per class at mask batch 1, and the dense network trains beside them,
each over seeds 0, 1 and 2 (18 runs). Then the masks are analysed without training (overlap,
collapse thresholds, Hutchinson probes). Only differences whose 95% interval over the paired seeds
excludes zero are stated as results. About 5 minutes with the native backend on 2 cores;
PAI_BACKEND=js runs the same, slower. Rerunning skips finished runs.`)
    .action(async (f: { out: string; epochs?: string; quick?: boolean }, command: Command) => asUserErrors(async () => {
      const quiet = Boolean(command.optsWithGlobals<{ quiet?: boolean }>().quiet);
      const { runDemo } = await import('../../experiment/demo.js');
      const { runLabel } = await import('../../experiment/runner.js');
      const { backendInfo } = await import('../../kernels/index.js');
      const b = backendInfo();
      let task: Task | null = null;
      if (!quiet) process.stderr.write(`pai demo: backend ${b.name} (${b.reason}), ${b.threads} thread(s); output in ${f.out}\n`);
      const r = await runDemo(f.out, {
        ...(f.epochs !== undefined ? { epochs: parseInteger('--epochs', f.epochs, 1) } : {}),
        quick: f.quick ?? false,
        events: studyEvents(quiet, runLabel),
        analysisEvents: {
          start(total) { if (!quiet) task = startTask('mask analysis', total, { unit: 'work' }); },
          progress(done, total) { task?.update(done, total); },
          done() { task?.done(); task = null; },
          warn(message) { process.stderr.write(`pai: warning: ${message}\n`); },
        },
      });
      process.stdout.write(`\n${r.table}\n`);
      const png = r.report.files.filter((x) => x.endsWith('.png'));
      process.stdout.write(`report: ${r.report.files[0]}\nplots: ${png.join(', ')}\nmask analysis: ${join(f.out, 'analysis', 'analysis.md')}\n${r.rows.length} runs and the mask analysis in ${r.seconds.toFixed(0)} s\n`);
    }));
  examples(cmd, ['pai demo', 'pai demo --out /tmp/demo --epochs 5', 'pai demo --quick', 'PAI_BACKEND=js pai demo --quick']);
}
