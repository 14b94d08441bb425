// Per-sample gradients as an extension of the backward pass (BackPACK's idea). A reverse pass over
// a batch sums its samples' gradients inside the weight-gradient ops; the per-sample terms exist
// there and nowhere else. So the few ops through which parameters enter a network (conv2d and its
// input gradient, the linear layer's matrix product, the per-channel affine map of batch norm) carry
// a per-sample rule in their op-table entry; the backward pass runs it (applyPerSampleRule) when one
// of the op's inputs is a parameter registered here, and the rule hands the parameter's per-sample
// gradient [n, ...shape] to a sink. Criteria only register and read.
//
// Two modes. 'report': each rule reports the per-sample contribution of its parameter inputs.
// 'probe' (used for the first, recorded backward pass of a Hessian-vector product): the rule
// instead adds the recorded scalar Σ_n <g_n, z_n> for per-sample probes z_n, so that a second
// backward pass in 'report' mode yields z_n-directional second derivatives of every sample at once.
//
// Anything the ops cannot vouch for (a parameter consumed by an op without per-sample support, a
// parameter used twice where the consumer squares, a layout the rule does not cover) is found by
// checkPerSampleGraph before the backward pass or flagged from inside a rule; callers must then
// discard the results and fall back to a per-sample loop. Wrong numbers are never returned silently.

import type { Tensor } from '../tensor/tensor.js';
import { at } from '../tensor/checked.js';
import { numel } from '../tensor/shape.js';
import type { FloatArray } from '../kernels/interface.js';
import type { OpCall, OpDef } from './op.js';
import type { Node } from './tape.js';

export interface PerSampleSink {
  /** The contribution of one op to the gradients of samples start .. start + g.shape[0] - 1 of parameter `index`; g is [count, ...param.shape]. */
  add(index: number, start: number, g: Tensor): void;
  /**
   * Set by sinks that only want the first two moments over the samples: the accumulators (flat, in
   * the parameter's element order) of Σ_n g_n (null when not wanted) and Σ_n g_n² of parameter
   * `index`. Ops with a direct kernel add into them and skip the [n, ...] stacks; the others still
   * call `add`. Only valid where every parameter has one consumer (checkPerSampleGraph with
   * `squares`), since squares of partial gradients do not sum to the square of their sum.
   */
  moments?(index: number): { sum: FloatArray | null; squares: FloatArray };
  /**
   * Set by sinks that only want Σ_n z_n ⊙ g_n for per-sample probes z_n: the stacked probes
   * [batch, ...shape] (flat) and the accumulator of parameter `index`. Linear in g, so contributions
   * of several ops add up.
   */
  probeDot?(index: number): { z: FloatArray; acc: FloatArray };
}

/** The reductions an op can compute without per-sample stacks (see PerSampleSink). */
export interface DirectReductions {
  moments?(sum: FloatArray | null, squares: FloatArray): void;
  probeDot?(z: FloatArray, acc: FloatArray): void;
}

export type PerSampleMode = 'report' | 'probe' | 'off';

interface Tracker {
  readonly index: Map<Tensor, number>;
  readonly shapes: readonly (readonly number[])[];
  readonly batch: number;
  mode: PerSampleMode;
  sink: PerSampleSink | null;
  /** Stacked per-sample probes [batch, ...shape] per registered parameter (probe mode). */
  probes: readonly Tensor[] | null;
  terms: Tensor[];
  unsupported: string | null;
}

let active: Tracker | null = null;

export interface PerSampleSession {
  readonly batch: number;
  setMode(mode: PerSampleMode): void;
  setSink(sink: PerSampleSink | null): void;
  setProbes(probes: readonly Tensor[] | null): void;
  /** The recorded probe terms added in 'probe' mode since the last call (then cleared). */
  takeTerms(): Tensor[];
  /** Why per-sample results of this session cannot be trusted, or null. */
  unsupported(): string | null;
  markUnsupported(reason: string): void;
}

/**
 * Runs fn with `params` registered for per-sample gradients over a batch of `batch` samples (axis 0
 * of every activation). The forward pass must run inside fn too: registered parameters make batch
 * norm and linear layers take forms whose parameters enter supported ops directly.
 */
export function withPerSampleGradients<T>(params: readonly Tensor[], batch: number, fn: (s: PerSampleSession) => T): T {
  if (active) throw new Error('withPerSampleGradients: sessions do not nest');
  const t: Tracker = {
    index: new Map(params.map((p, i) => [p, i])), shapes: params.map((p) => p.shape), batch,
    mode: 'off', sink: null, probes: null, terms: [], unsupported: null,
  };
  const s: PerSampleSession = {
    batch,
    setMode: (m) => { t.mode = m; },
    setSink: (k) => { t.sink = k; },
    setProbes: (p) => { t.probes = p; },
    takeTerms: () => { const r = t.terms; t.terms = []; return r; },
    unsupported: () => t.unsupported,
    markUnsupported: (r) => { t.unsupported ??= r; },
  };
  active = t;
  try {
    return fn(s);
  } finally {
    active = null;
  }
}

/** Whether t is a registered parameter (or an alias of one); ops use it to choose their form. */
export function perSampleWanted(t: Tensor | null): boolean {
  return active !== null && t !== null && active.index.has(t);
}

export function perSampleMode(): PerSampleMode {
  return active ? active.mode : 'off';
}

export function perSampleBatch(): number {
  return active ? active.batch : 0;
}

/** Registers `alias` (a reshape of `of`, same element order) as standing for the same parameter. */
export function perSampleAlias(alias: Tensor, of: Tensor): void {
  if (!active) return;
  const i = active.index.get(of);
  if (i !== undefined) active.index.set(alias, i);
}

export function perSampleUnsupported(reason: string): void {
  if (active) active.unsupported ??= reason;
}

/**
 * Report mode: hands the per-sample gradient of registered parameter p to the sink. `compute(start,
 * count)` returns the [count, ...] contributions of those samples; it is called in chunks so that a
 * large weight never needs its full [batch, ...] stack at once.
 */
export function reportPerSample(p: Tensor, compute: (start: number, count: number) => Tensor): void {
  const t = active;
  if (!t || t.mode !== 'report') return;
  const i = t.index.get(p);
  if (i === undefined || !t.sink) return;
  const size = numel(at(t.shapes, i, 'registered parameter shapes'));
  const chunk = Math.max(1, Math.min(t.batch, Math.floor(CHUNK_VALUES / Math.max(1, size))));
  for (let s = 0; s < t.batch; s += chunk) {
    const c = Math.min(chunk, t.batch - s);
    const g = compute(s, c);
    if (g.size !== c * size) throw new Error(`internal: per-sample gradient of ${g.size} values for ${c} samples of a ${size}-value parameter`);
    t.sink.add(i, s, g);
  }
}

/**
 * Report mode where the op has direct kernels: when the sink asks for a reduction the op offers
 * (moments, probe dot) and the sink's buffers have the element type of `like` (the kernels' type),
 * the op adds into them; otherwise the sink gets the stacks of reportPerSample(p, compute).
 */
export function reportPerSampleDirect(p: Tensor, like: FloatArray, direct: DirectReductions, compute: (start: number, count: number) => Tensor): void {
  const t = active;
  if (!t || t.mode !== 'report') return;
  const i = t.index.get(p);
  if (i === undefined || !t.sink) return;
  const same = (a: FloatArray | null): boolean => a === null || a.constructor === like.constructor;
  if (direct.moments) {
    const m = t.sink.moments?.(i);
    if (m && same(m.sum) && same(m.squares)) return direct.moments(m.sum, m.squares);
  }
  if (direct.probeDot) {
    const d = t.sink.probeDot?.(i);
    if (d && same(d.z) && same(d.acc)) return direct.probeDot(d.z, d.acc);
  }
  reportPerSample(p, compute);
}

// Bounds the stacked per-sample gradients one op materialises (values, float32: 64 MB).
const CHUNK_VALUES = 1 << 24;

/** Probe mode: the stacked probes [batch, ...shape] of registered parameter p, or null. */
export function perSampleProbe(p: Tensor): Tensor | null {
  const t = active;
  if (!t || t.mode !== 'probe' || !t.probes) return null;
  const i = t.index.get(p);
  return i === undefined ? null : at(t.probes, i, 'registered parameter probes');
}

/** Probe mode: adds the recorded scalar Σ_n <g_n, z_n> of one op's parameter input. */
export function addProbeTerm(term: Tensor): void {
  if (active) active.terms.push(term);
}

/**
 * Backward pass, before an op's vjp runs: when a registered parameter is one of the inputs the op's
 * per-sample rule covers, runs the rule and returns `needs` without those inputs, whose summed
 * gradients the rule's per-sample terms (report mode) or probe terms (probe mode) replace.
 */
/** Whether a per-sample tracker is taking gradients apart (its rules read the pass's gradients). */
export function perSampleActive(): boolean {
  return active !== null && active.mode !== 'off';
}

export function applyPerSampleRule(op: OpDef, call: OpCall, g: Tensor, needs: readonly boolean[]): readonly boolean[] {
  const t = active;
  const rule = op.perSample?.rule;
  if (!t || t.mode === 'off' || !rule) return needs;
  let taken: boolean[] | null = null;
  for (const i of op.perSample.inputs) {
    const x = call.inputs[i];
    if (x !== undefined && t.index.has(x)) (taken ??= [...needs])[i] = false;
  }
  if (taken) rule(g, call);
  return taken ?? needs;
}

/**
 * Walks the recorded graph of `outputs` and returns why per-sample results over it would be wrong,
 * or null: a registered parameter consumed by an op (or at an input position) without a per-sample
 * rule, a reshape of a parameter that is not a registered alias, or, when `squares` is set (the
 * consumer squares the gradient, so the contributions of several uses would have to be summed
 * first), a parameter consumed more than once.
 */
export function checkPerSampleGraph(outputs: readonly Tensor[], squares: boolean): string | null {
  const t = active;
  if (!t) return 'no per-sample session is active';
  if (t.unsupported) return t.unsupported;
  const uses = new Map<number, number>();
  const seen = new Set<Tensor>();
  const stack = [...outputs];
  for (let out = stack.pop(); out !== undefined; out = stack.pop()) {
    if (seen.has(out)) continue;
    seen.add(out);
    const node = out.gradFn as Node | null;
    if (!node) continue;
    node.inputs.forEach((x, pos) => {
      const i = t.index.get(x);
      if (i !== undefined) {
        const rule = node.op.perSample;
        if (!rule?.inputs.includes(pos)) return void (t.unsupported ??= `parameter ${i} enters op ${node.name} (input ${pos}), which has no per-sample rule`);
        if (!rule.rule) {
          if (t.index.get(out) !== i) t.unsupported ??= `parameter ${i} is reshaped outside a per-sample-aware layer`;
        } else {
          uses.set(i, (uses.get(i) ?? 0) + 1);
        }
      }
      if (x.requiresGrad) stack.push(x);
    });
  }
  if (squares && !t.unsupported) {
    for (const [i, c] of uses) if (c > 1) { t.unsupported = `parameter ${i} is used by ${c} ops; its per-sample gradient would have to be summed before squaring`; break; }
  }
  return t.unsupported;
}
