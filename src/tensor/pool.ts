// Reuse of the buffers of intermediate gradients. JavaScript frees a typed array only when the
// garbage collector finds it unreachable, so every op of a training step used to take fresh memory:
// cold in the caches, and each 64 MiB or so of it a major collection (V8 counts array-buffer
// memory towards its collection trigger). PyTorch frees a tensor the moment its last reference
// goes, and the next op of the same size reuses the still-cached memory.
//
// pai does the same where it can prove a buffer dead: in a backward pass that records nothing, the
// engine (autograd/graph.ts) counts the references its gradient map holds to each buffer that was
// made during the pass, and gives a buffer back here when the count falls to zero and the buffer is
// not a result of the pass. Kernels that overwrite their whole output (autograd/ops/util.ts,
// `uninit`) take buffers from here before asking for new memory. Nothing outside a backward pass
// is ever given back, so a tensor a caller can reach is never reused.

/** At most this many bytes wait here for reuse; beyond it a freed buffer is left to the collector. */
const MAX_POOLED_BYTES = 256 * 2 ** 20;

const free = new Map<number, ArrayBufferLike[]>();
let pooledBytes = 0;
let hits = 0, misses = 0, given = 0;

let enabled = process.env['PAI_POOL'] !== '0';
// Fills every buffer given back with NaN, so that a use after the give-back shows in results: the
// test suite's check that no buffer is given back while something can still read it.
let poison = process.env['PAI_POOL_POISON'] === '1';

/** Turns the reuse on or off (PAI_POOL=0 starts with it off); returns the previous setting. */
export function setPoolEnabled(on: boolean): boolean {
  const prev = enabled;
  enabled = on;
  return prev;
}

/** Whether backward passes give their dead gradient buffers back. */
export function poolEnabled(): boolean {
  return enabled;
}

/** Turns NaN-filling of given-back buffers on or off (PAI_POOL_POISON=1 starts with it on). */
export function setPoolPoison(on: boolean): boolean {
  const prev = poison;
  poison = on;
  return prev;
}

/** Buffers handed out while a backward pass runs: the only ones it may give back. */
let fresh: Set<ArrayBufferLike> | null = null;

/** A pooled buffer of exactly `bytes` bytes, or undefined. Its contents are arbitrary. */
export function takeBuffer(bytes: number): ArrayBufferLike | undefined {
  const list = free.get(bytes);
  const b = list?.pop();
  if (b) {
    pooledBytes -= bytes;
    hits++;
  } else {
    misses++;
  }
  return b;
}

/** Records a buffer just handed to a kernel's output, for the backward pass that may be running. */
export function noteFresh(b: ArrayBufferLike): void {
  fresh?.add(b);
}

/** Whether `b` was handed out during the running backward pass. */
export function isFresh(b: ArrayBufferLike): boolean {
  return fresh !== null && fresh.has(b);
}

/** Gives a dead buffer back for reuse (the caller has proved that nothing reaches it). */
export function giveBuffer(b: ArrayBufferLike): void {
  fresh?.delete(b);
  given++;
  if (poison) new Float32Array(b).fill(NaN);
  if (pooledBytes + b.byteLength > MAX_POOLED_BYTES) return;
  let list = free.get(b.byteLength);
  if (!list) free.set(b.byteLength, list = []);
  list.push(b);
  pooledBytes += b.byteLength;
}

/**
 * Runs fn with buffer tracking on (a backward pass). A nested pass tracks its own buffers only: the
 * outer pass then never gives back what the inner one made, and the inner one never sees the
 * outer's.
 */
export function withFreshTracking<T>(fn: () => T): T {
  const outer = fresh;
  fresh = new Set();
  try {
    return fn();
  } finally {
    fresh = outer;
  }
}

/**
 * What the pool holds now (buffers, bytes), how many requests it served (hits) or not (misses) and
 * how many buffers were given back (given), since the process started: for tests and benchmarks.
 */
export function poolStats(): { buffers: number; bytes: number; hits: number; misses: number; given: number } {
  let buffers = 0;
  for (const l of free.values()) buffers += l.length;
  return { buffers, bytes: pooledBytes, hits, misses, given };
}

/** Empties the pool (the buffers are left to the collector). */
export function clearPool(): void {
  free.clear();
  pooledBytes = 0;
}
