// `pai criteria`: every pruning criterion with its score formula, its defaults in both semantics
// and the options it reads, from the one registry the library uses.

import type { Command } from 'commander';
import { examples, table } from '../options.js';

export function register(program: Command): void {
  const cmd = program.command('criteria')
    .description('list the pruning criteria: formula, defaults (fixed and reference semantics), options used')
    .option('--json', 'print as JSON')
    .action(async (f: { json?: boolean }) => {
      const { criteria, OPTION_SPECS } = await import('../../prune/index.js');
      const rows = criteria().map((c) => {
        const fixed = c.defaults('fixed'), ref = c.defaults('reference');
        const show = (d: typeof fixed): string => c.uses.length ? c.uses.map((k) => `${OPTION_SPECS[k].symbol}=${String(d[k])}`).join(' ') : '-';
        return {
          name: c.name, formula: c.formula, summary: c.summary, doc: c.doc, needsData: c.needsData, drawsRandom: c.drawsRandom,
          iterations: c.iterations, quantity: c.quantity, uses: [...c.uses], fixed: show(fixed), reference: show(ref), defaults: { fixed, reference: ref },
        };
      });
      if (f.json) {
        process.stdout.write(`${JSON.stringify(rows.map(({ fixed: _f, reference: _r, ...r }) => r), null, 2)}\n`);
        return;
      }
      process.stdout.write(`${table(['criterion', 'data', 'iter', 'fixed', 'reference', 'options', 'score'],
        rows.map((r) => [r.name, r.needsData ? 'yes' : 'no', String(r.iterations), r.fixed, r.reference, r.uses.map((u) => `--${OPTION_SPECS[u].flag}`).join(' ') || '-', r.formula]))}\n`);
      const symbols = Object.values(OPTION_SPECS).map((o) => `${o.symbol} = --${o.flag}`).join(', ');
      process.stdout.write(`\n${symbols}. Every data criterion also takes --mask-batch-size (default 1, the paper's per-sample\n`
        + 'loop); iter = default prune-rescore iterations in pai prune. The ggn_* criteria compute the exact Gauss-Newton diagonal,\n'
        + 'which is the Hessian diagonal (the zero-variance limit of hutch_diag) only where the network is piecewise linear in\n'
        + 'each weight: ReLU, convolution, linear, pooling, residual adds, eval-mode batch norm; not GELU, LayerNorm, softmax\n'
        + 'attention or train-mode batch norm (pai warns when it scores such a model). pai criteria --json gives each doc.\n');
    });
  examples(cmd, ['pai criteria', 'pai criteria --json']);
}
