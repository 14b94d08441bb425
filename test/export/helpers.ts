// Shared by the export tests: small pruned models with trained-looking batch-norm state, and an
// onnxruntime-node runner.
import { createRequire } from 'node:module';
import { noGrad } from '../../src/autograd/index.js';
import { createModel, type CreateOptions, type Model } from '../../src/models/index.js';
import { BatchNorm } from '../../src/nn/layers.js';
import { pruneAtInit } from '../../src/prune/index.js';
import { randn } from '../../src/tensor/create.js';
import { Generator } from '../../src/tensor/random.js';
import type { Tensor } from '../../src/tensor/tensor.js';

/** Built, 98% magnitude-pruned (masks applied), BN statistics and affine set to non-trivial values, eval mode. */
export function prunedModel(name: string, o: CreateOptions, sparsity = 0.98, seed = 1): Model {
  const model = createModel(name, { ...o, seed });
  const gen = new Generator(seed, 'export-test-bn');
  // Fresh BN (mean 0, var 1, gamma 1, beta 0) would hide a swapped or missing operand.
  for (const [, m] of model.namedModules()) {
    if (!(m instanceof BatchNorm)) continue;
    const fill = (t: Tensor | null, f: () => number): void => { if (t) for (let i = 0; i < t.size; i++) t.data[i] = f(); };
    fill(m.runningMean, () => 0.2 * gen.normal());
    fill(m.runningVar, () => 0.5 + gen.uniform());
    fill(m.weight, () => 0.5 + gen.uniform());
    fill(m.bias, () => 0.2 * gen.normal());
  }
  pruneAtInit(model, { criterion: 'magnitude', sparsity, data: null });
  model.eval();
  return model;
}

export function batchFor(model: Model, n: number, seed = 7): Tensor {
  const c = model.config;
  return randn([n, c.inChannels, c.imageSize, c.imageSize], new Generator(seed, 'export-test-input'));
}

export function forward(model: Model, x: Tensor): Tensor {
  return noGrad(() => model.forward(x));
}

interface OrtTensor { data: Float32Array; dims: readonly number[] }
interface OrtSession { run(feeds: Record<string, unknown>): Promise<Record<string, OrtTensor>>; inputNames: readonly string[]; outputNames: readonly string[] }
interface Ort {
  InferenceSession: { create(bytes: Uint8Array): Promise<OrtSession> };
  Tensor: new (type: 'float32', data: Float32Array, dims: readonly number[]) => unknown;
}

// onnxruntime-node is CommonJS; required lazily so that only the tests that run ONNX load it.
let ort: Ort | null = null;
export function onnxruntime(): Ort {
  ort ??= createRequire(import.meta.url)('onnxruntime-node') as Ort;
  return ort;
}

export async function runOnnx(bytes: Uint8Array, x: Tensor): Promise<OrtTensor> {
  const o = onnxruntime();
  const s = await o.InferenceSession.create(bytes);
  const r = await s.run({ input: new o.Tensor('float32', x.data as Float32Array, x.shape) });
  return r['logits']!;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

export function argmaxRows(d: ArrayLike<number>, cols: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < d.length / cols; r++) {
    let best = 0;
    for (let c = 1; c < cols; c++) if (d[r * cols + c]! > d[r * cols + best]!) best = c;
    out.push(best);
  }
  return out;
}

/** Per row, the gap between the largest and second largest value. */
export function topMargins(d: ArrayLike<number>, cols: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < d.length / cols; r++) {
    const row = Array.from({ length: cols }, (_, c) => d[r * cols + c]!).sort((p, q) => q - p);
    out.push(row[0]! - (row[1] ?? -Infinity));
  }
  return out;
}
