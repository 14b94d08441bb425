// `pai merge STORE... --out STORE`: the union of results stores (e.g. one per shard).

import type { Command } from 'commander';
import { examples } from '../options.js';
import { asUserErrors } from './run.js';

export function register(program: Command): void {
  const cmd = program.command('merge')
    .description('merge results stores into one; a run found twice must have the same result')
    .argument('<stores...>', 'stores to read')
    .requiredOption('--out <dir>', 'store to write (created if needed; may be one of the inputs)')
    .addHelpText('after', `
Rows are matched by run id. Two rows of one run that agree (timings and provenance aside) are kept
once; rows that disagree stop the merge with the run id, before anything is written. Unusable rows
(torn, edited, misnamed) are skipped and listed.`)
    .action(async (stores: string[], f: { out: string }) => asUserErrors(async () => {
      const { mergeStores } = await import('../../experiment/store.js');
      const r = mergeStores(stores, f.out);
      for (const p of r.problems) process.stderr.write(`pai: warning: skipped ${p.file}: ${p.reason}\n`);
      process.stdout.write(`${f.out}: ${r.rows} run(s), ${r.added} added, ${r.duplicates} duplicate(s) kept once\n`);
    }));
  examples(cmd, ['pai merge results/shard-0 results/shard-1 results/shard-2 --out results/all', 'pai merge results/laptop --out results/all']);
}
