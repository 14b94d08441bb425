// What CPU pai runs on, for `pai info` and for the result rows of a study: results of the native
// backend differ in their last bits between CPUs (oneDNN picks its kernels per instruction set), so a
// row says where it was computed.

import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';

/** The vector extensions of this CPU that matter to pai's loops, from /proc/cpuinfo (Linux), or null. */
export function cpuVectorIsa(cpuinfo?: string): string[] | null {
  let text = cpuinfo;
  if (text === undefined) {
    try { text = readFileSync('/proc/cpuinfo', 'utf8'); } catch { return null; }
  }
  const line = text.split('\n').find((l) => /^flags\s*:/.test(l));
  if (!line) return null;
  const flags = new Set(line.slice(line.indexOf(':') + 1).trim().split(/\s+/));
  return ['avx512f', 'avx2', 'fma', 'avx', 'sse4_2'].filter((f) => flags.has(f));
}

/** The CPU's model name and vector extensions, e.g. "AMD EPYC (avx512f, avx2, fma, avx, sse4_2)". */
export function cpuDescription(): string {
  const isa = cpuVectorIsa();
  return `${cpus()[0]?.model ?? 'unknown'}${isa ? ` (${isa.join(', ') || 'no AVX'})` : ''}`;
}
