// Backend selection. The native backend runs float32 work when its addon loads; the reference
// backend runs everything else (float64 always). PAI_BACKEND=js|native forces one.

import type { Backend, DType } from './interface.js';
import { jsBackend } from './js/index.js';
import { loadNativeBackend } from './native/index.js';

export type { Backend, DType, FloatArray, Conv2dParams, Pool2dParams, AdaptivePool2dParams, MatmulParams, UnaryOp, BinaryOp, ReduceOp, CsrPattern, SparseLinearParams } from './interface.js';
export { jsBackend };

interface Selection { backend: Backend; reason: string }

let selection: Selection | null = null;
let override: Backend | null = null;

function select(): Selection {
  if (selection) return selection;
  const forced = (process.env['PAI_BACKEND'] ?? '').trim().toLowerCase();
  if (forced !== '' && forced !== 'js' && forced !== 'native') {
    throw new Error(`PAI_BACKEND must be "js" or "native", got "${forced}"`);
  }
  if (forced === 'js') {
    selection = { backend: jsBackend, reason: 'forced by PAI_BACKEND=js' };
    return selection;
  }
  const native = loadNativeBackend();
  if (native.backend) {
    selection = { backend: native.backend, reason: forced === 'native' ? 'forced by PAI_BACKEND=native' : 'native addon loaded' };
  } else if (forced === 'native') {
    throw new Error(`PAI_BACKEND=native, but the native backend cannot be loaded: ${native.reason}`);
  } else {
    selection = { backend: jsBackend, reason: `native backend unavailable (${native.reason})` };
    // Said once, so a slow run is never a silent mystery.
    process.stderr.write(`pai: using the TypeScript reference backend: ${selection.reason}\n`);
  }
  return selection;
}

/** The backend that computes tensors of this dtype. */
export function backendFor(dtype: DType): Backend {
  const b = override ?? select().backend;
  return b.supports(dtype) ? b : jsBackend;
}

/** The backend float32 work runs on, and why it was chosen. */
export function backendInfo(): { name: Backend['name']; reason: string; threads: number } {
  const s = override ? { backend: override, reason: 'set by useBackend()' } : select();
  return { name: s.backend.name, reason: s.reason, threads: s.backend.numThreads() };
}

/** Run with a given backend (benchmarks and parity tests); null restores the default selection. */
export function useBackend(b: Backend | null): void {
  override = b;
}

/** The native (oneDNN) backend when its addon loads, else null. */
export function nativeBackend(): Backend | null {
  return loadNativeBackend().backend;
}

/** Sets the number of threads the current backend computes with (a positive integer). */
export function setNumThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`threads must be a positive integer, got ${n}`);
  (override ?? select().backend).setNumThreads(n);
}
