// `pai report STORE --out DIR`: Markdown tables in the paper's layout and plots (SVG and PNG).

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { examples, parseSparsity } from '../options.js';
import { asUserErrors } from './run.js';

export function register(program: Command): void {
  const cmd = program.command('report')
    .description('write report.md (accuracy tables with 95 % intervals, the study\'s questions as paired comparisons with verdicts, BN warm-up, layer collapse, timings, the mask-level analysis), results.csv and plots from a results store')
    .argument('<stores...>', 'results store(s)')
    .requiredOption('--out <dir>', 'output folder (created if needed)')
    .option('--sparsity <s>', 'sparsity of the per-layer density plot (default: the highest in the store)')
    .option('--title <text>', 'report title')
    .option('--analysis <file>', 'the mask-level analysis (analysis.json of pai analyze) to add: overlap heat maps, collapse thresholds, probe convergence (default: <first store>/analysis/analysis.json when it exists)')
    .option('--no-png', 'SVG plots only')
    .action(async (stores: string[], f: { out: string; sparsity?: string; title?: string; analysis?: string; png: boolean }) => asUserErrors(async () => {
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
      const sections: string[] = [];
      const first = stores[0];
      const analysisFile = f.analysis ?? (first !== undefined && existsSync(join(first, 'analysis', 'analysis.json')) ? join(first, 'analysis', 'analysis.json') : undefined);
      if (analysisFile !== undefined) {
        const { readAnalysis, analysisSection } = await import('../../experiment/analysis-report.js');
        // A bad file is an AnalysisError naming it and the field: a user error (exit 2).
        sections.push((await analysisSection(readAnalysis(analysisFile), f.out, { png: f.png })).markdown);
      }
      const rep = await writeReport(rows, {
        out: f.out, png: f.png, notes, sections,
        ...(f.title !== undefined ? { title: f.title } : {}),
        ...(f.sparsity !== undefined ? { layerSparsity: parseSparsity(f.sparsity) } : {}),
      });
      process.stdout.write(`${terminalTables(rows)}\nwrote ${rep.files.join(', ')}\n`);
    }));
  examples(cmd, ['pai report results/fmnist --out reports/fmnist', 'pai report results/a results/b --out reports/ab --sparsity 0.98 --no-png', 'pai report results/fmnist --analysis /tmp/an/analysis.json --out reports/fmnist']);
}
