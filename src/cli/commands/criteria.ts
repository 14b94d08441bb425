// `pai criteria`: every pruning criterion with its score formula, its defaults in both semantics
// and the options it reads, from the one registry the library uses.

import type { Command } from 'commander';
import { examples, table } from '../options.js';

export function register(program: Command): void {
  const cmd = program.command('criteria')
    .description('list the pruning criteria: formula, defaults (fixed and reference semantics), options used')
    .option('--json', 'print as JSON')
    .action(async (f: { json?: boolean }) => {
      const { criteria } = await import('../../prune/index.js');
      const rows = criteria().map((c) => {
        const fixed = c.defaults('fixed'), ref = c.defaults('reference');
        const show = (d: typeof fixed): string => c.uses.length ? c.uses.map((k) => `${k === 'temperature' ? 'T' : 'K'}=${d[k]}`).join(' ') : '-';
        return { name: c.name, formula: c.formula, summary: c.summary, needsData: c.needsData, uses: [...c.uses], fixed: show(fixed), reference: show(ref), defaults: { fixed, reference: ref } };
      });
      if (f.json) {
        process.stdout.write(`${JSON.stringify(rows.map(({ fixed: _f, reference: _r, ...r }) => r), null, 2)}\n`);
        return;
      }
      process.stdout.write(`${table(['criterion', 'data', 'fixed', 'reference', 'options', 'score'],
        rows.map((r) => [r.name, r.needsData ? 'yes' : 'no', r.fixed, r.reference, r.uses.map((u) => `--${u}`).join(' ') || '-', r.formula]))}\n`);
      process.stdout.write('\nT = temperature dividing the logits, K = Rademacher probes per mask batch. Every data criterion also takes\n'
        + '--mask-batch-size (default 1, the paper\'s per-sample loop); synflow defaults to 100 iterations in pai prune.\n');
    });
  examples(cmd, ['pai criteria', 'pai criteria --json']);
}
