// Memory of a training run, sampled between epochs, for the memory tests (test/train,
// test/reliability). Between epochs nothing of a step is alive, so after a collection, a turn of
// the event loop (native finalizers that free tensor memory run there) and a second collection,
// what remains is what training keeps.

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

export interface MemorySample { step: number; heap: number; buffers: number; rss: number }

/** A sample after forced collections; call it between epochs. */
export async function sampleMemory(step: number): Promise<MemorySample> {
  gc();
  await new Promise((res) => setImmediate(res));
  gc();
  const m = process.memoryUsage();
  return { step, heap: m.heapUsed, buffers: m.arrayBuffers, rss: m.rss };
}

const mb = (b: number): string => (b / 2 ** 20).toFixed(2);

export function memoryReport(samples: readonly MemorySample[]): string {
  return samples.map((s) => `step ${s.step}: heap ${mb(s.heap)} MB, arrayBuffers ${mb(s.buffers)} MB, rss ${mb(s.rss)} MB`).join('; ');
}

/** Least-squares slope of `key` over the samples, in bytes per step. */
export function memorySlope(samples: readonly MemorySample[], key: 'heap' | 'buffers' | 'rss'): number {
  const mx = samples.reduce((a, s) => a + s.step, 0) / samples.length;
  const my = samples.reduce((a, s) => a + s[key], 0) / samples.length;
  let num = 0, den = 0;
  for (const s of samples) { num += (s.step - mx) * (s[key] - my); den += (s.step - mx) ** 2; }
  return den > 0 ? num / den : 0;
}

/** Growth limits from the first sample to the last, in bytes. */
export interface MemoryBounds { heap: number; buffers: number; rss: number }

/** Throws when the last sample exceeds the first by more than the bounds; the message has every sample. */
export function assertFlat(samples: readonly MemorySample[], bounds: MemoryBounds): void {
  const base = samples[0]!, last = samples[samples.length - 1]!;
  const report = memoryReport(samples);
  const check = (what: string, grew: number, limit: number): void => {
    if (grew >= limit) throw new Error(`${what} grew ${mb(grew)} MB (limit ${mb(limit)} MB) from step ${base.step} to ${last.step}: ${report}`);
  };
  check('heap', last.heap - base.heap, bounds.heap);
  // Tensor data lives in typed-array backing stores, outside heapUsed.
  check('arrayBuffers', last.buffers - base.buffers, bounds.buffers);
  check('rss', last.rss - base.rss, bounds.rss);
}
