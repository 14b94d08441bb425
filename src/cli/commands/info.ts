// `pai info`: what this installation runs on, so that a slow or odd run can be explained.

import type { Command } from 'commander';
import { cpus } from 'node:os';
import { examples } from '../options.js';
import { paiVersion } from '../version.js';

interface NativeInfo { isa: string; onednn: string; cores: number }

export function register(program: Command): void {
  const cmd = program.command('info')
    .description('version, compute backend and why it was chosen, threads, native ISA and oneDNN')
    .option('--json', 'print as JSON')
    .action(async (o: { json?: boolean }) => {
      const { backendInfo, nativeBackend } = await import('../../kernels/index.js');
      const b = backendInfo();
      // Asked only when native is in use: under PAI_BACKEND=js the addon should not even load.
      const native = b.name === 'native' ? nativeBackend() as ({ info?: () => NativeInfo }) | null : null;
      const ni = native?.info ? native.info() : null;
      const facts = {
        version: paiVersion(),
        node: process.version,
        platform: `${process.platform}-${process.arch}`,
        cpus: cpus().length,
        backend: b.name,
        reason: b.reason,
        threads: b.threads,
        ...(ni ? { isa: ni.isa, onednn: ni.onednn, cores: ni.cores } : {}),
      };
      if (o.json) { process.stdout.write(`${JSON.stringify(facts, null, 2)}\n`); return; }
      const w = Math.max(...Object.keys(facts).map((k) => k.length));
      for (const [k, v] of Object.entries(facts)) process.stdout.write(`${k.padEnd(w)}  ${String(v)}\n`);
    });
  examples(cmd, ['pai info', 'PAI_BACKEND=js pai info', 'pai info --threads 2 --json']);
}
