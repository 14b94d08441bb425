// `pai report STORE --out DIR`: Markdown tables in the paper's layout and plots (SVG and PNG).

import type { Command } from 'commander';
import { examples, parseSparsity } from '../options.js';
import { asUserErrors } from './run.js';

export function register(program: Command): void {
  const cmd = program.command('report')
    .description('write report.md (accuracy tables, BN warm-up comparison, layer collapse, timings), results.csv and plots from a results store')
    .argument('<stores...>', 'results store(s)')
    .requiredOption('--out <dir>', 'output folder (created if needed)')
    .option('--sparsity <s>', 'sparsity of the per-layer density plot (default: the highest in the store)')
    .option('--title <text>', 'report title')
    .option('--no-png', 'SVG plots only')
    .action(async (stores: string[], f: { out: string; sparsity?: string; title?: string; png: boolean }) => asUserErrors(async () => {
      const { readStore } = await import('../../experiment/store.js');
      const { writeReport, terminalTables } = await import('../../experiment/report.js');
      const rows = [], notes: string[] = [];
      const seen = new Set<string>();
      for (const s of stores) {
        const c = readStore(s);
        for (const p of c.problems) {
          process.stderr.write(`pai: warning: skipped ${p.file}: ${p.reason}\n`);
          notes.push(`Skipped an unusable row: ${p.file} (${p.reason}).`);
        }
        for (const r of c.rows) if (!seen.has(r.id)) { seen.add(r.id); rows.push(r); }
      }
      const rep = await writeReport(rows, {
        out: f.out, png: f.png, notes,
        ...(f.title !== undefined ? { title: f.title } : {}),
        ...(f.sparsity !== undefined ? { layerSparsity: parseSparsity(f.sparsity) } : {}),
      });
      process.stdout.write(`${terminalTables(rows)}\nwrote ${rep.files.join(', ')}\n`);
    }));
  examples(cmd, ['pai report results/fmnist --out reports/fmnist', 'pai report results/a results/b --out reports/ab --sparsity 0.98 --no-png']);
}
