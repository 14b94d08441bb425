// `pai info`: what this installation runs on, so that a slow or odd run can be explained.

import type { Command } from 'commander';
import { cpus } from 'node:os';
import { cpuDescription, cpuVectorIsa } from '../../kernels/cpu.js';
import { examples } from '../options.js';
import { paiVersion } from '../version.js';

interface NativeInfo { isa: string; onednn: string; cores: number; allocator: string }

/**
 * What the native loops use against what the CPU offers. pai's own element-wise, reduction and
 * sparse loops are built for the baseline, AVX2+FMA and AVX-512; the addon runs the AVX2 build where
 * the CPU has it and the AVX-512 one only with PAI_NATIVE_ISA=avx512, since it measured no faster
 * (native/addon.cc). oneDNN (convolutions, matmul) picks its own kernels. Says so when the CPU has
 * AVX-512 that the loops do not use.
 */
export function isaNote(loopIsa: string, cpu: string[] | null): string | null {
  if (cpu?.includes('avx512f') && !/avx512/.test(loopIsa)) {
    return `the CPU has AVX-512; pai's own loops use ${loopIsa} (their AVX-512 build measured no faster; PAI_NATIVE_ISA=avx512 selects it); oneDNN picks its own convolution and matmul kernels for this CPU`;
  }
  return null;
}

export function register(program: Command): void {
  const cmd = program.command('info')
    .description('version, compute backend and why it was chosen, threads, the CPU and the ISA of the native loops, oneDNN')
    .option('--json', 'print as JSON')
    .action(async (o: { json?: boolean }) => {
      const { backendInfo, nativeBackend } = await import('../../kernels/index.js');
      const b = backendInfo();
      // Asked only when native is in use: under PAI_BACKEND=js the addon should not even load.
      const native = b.name === 'native' ? nativeBackend() as ({ info?: () => NativeInfo }) | null : null;
      const ni = native?.info ? native.info() : null;
      const cpuIsa = cpuVectorIsa();
      const facts = {
        version: paiVersion(),
        node: process.version,
        platform: `${process.platform}-${process.arch}`,
        cpus: cpus().length,
        cpu: cpuDescription(),
        backend: b.name,
        reason: b.reason,
        threads: b.threads,
        ...(ni ? { isa: ni.isa, onednn: ni.onednn, cores: ni.cores, allocator: ni.allocator } : {}),
        ...(ni && isaNote(ni.isa, cpuIsa) ? { isa_note: isaNote(ni.isa, cpuIsa) } : {}),
      };
      if (o.json) { process.stdout.write(`${JSON.stringify(facts, null, 2)}\n`); return; }
      const w = Math.max(...Object.keys(facts).map((k) => k.length));
      for (const [k, v] of Object.entries(facts)) process.stdout.write(`${k.padEnd(w)}  ${String(v)}\n`);
    });
  examples(cmd, ['pai info', 'PAI_BACKEND=js pai info', 'pai info --threads 2 --json']);
}
