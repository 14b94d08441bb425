// Ops that move values: on activations they are pai's recorded shape ops (gathers for indexing), on
// host values (shape arithmetic) the same ops run on float64 copies. Identity and Dropout pass
// their input through; Shape and Cast turn activations into host integers and back.

import type { Tensor } from '../../../tensor/tensor.js';
import { broadcastShapes, numel, stridesOf } from '../../../tensor/shape.js';
import * as ops from '../../../autograd/ops/index.js';
import { at, isNonEmpty, last, zip } from '../../../tensor/checked.js';
import type { ImportRule, NodeView } from '../rule.js';
import { HostTensor, asHost, asTensor, isHost, viaTensor, type RunContext, type Value } from '../value.js';

/** Applies a shape op to a host value (kept on the host) or to an activation. */
function move(v: Value, ctx: RunContext, f: (t: Tensor) => Tensor): Value {
  return isHost(v) ? viaTensor(v.kind, f, v) : f(asTensor(v, ctx));
}

function rule(opType: string, since: number, run: ImportRule['run']): ImportRule {
  return { domain: '', opType, since, run };
}

/** out.flat = x.flat[idx] with the given output shape, recorded for activations. */
function gatherFlat(v: Value, ctx: RunContext, idx: Int32Array, shape: number[]): Value {
  if (isHost(v)) return new HostTensor(v.kind, shape, Float64Array.from(idx, (i) => at(v.data, i, 'gathered index')));
  return ops.gatherFlat(asTensor(v, ctx), idx, shape);
}

/** Flat indices of the sub-array that takes, along each axis, the listed positions. */
function indexGrid(shape: readonly number[], picks: readonly (readonly number[])[]): Int32Array {
  const st = stridesOf(shape);
  let idx = [0];
  for (const [p, stride] of zip(picks, st, 'picks per axis')) {
    const next: number[] = [];
    for (const base of idx) for (const i of p) next.push(base + i * stride);
    idx = next;
  }
  return Int32Array.from(idx);
}

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/** Reshape's target: 0 copies the input's size at that position (unless allowzero); -1 is inferred later. */
function reshapeTarget(n: NodeView, shape: readonly number[], spec: readonly number[], allowZero: boolean): number[] {
  return spec.map((d, i) => {
    if (d !== 0 || allowZero) return d;
    const copied = shape[i];
    if (copied === undefined) throw n.error(`shape entry ${i} is 0 (copy) but the input has rank ${shape.length}`);
    return copied;
  });
}

const flattenRule = rule('Flatten', 13, (ins, n, ctx) => {
  const x = n.need(ins, 0);
  const r = x.shape.length;
  const a0 = n.int('axis', 1), a = a0 < 0 ? a0 + r : a0;
  if (a < 0 || a > r) throw n.error(`axis ${a0} is out of range for rank ${r}`);
  return [move(x, ctx, (t) => ops.reshape(t, [numel(t.shape.slice(0, a)), numel(t.shape.slice(a))]))];
});

const reshapeRule = rule('Reshape', 13, (ins, n, ctx) => {
  const x = n.need(ins, 0), spec = n.hostInts(ins, 1, 'shape');
  const target = reshapeTarget(n, x.shape, spec, n.int('allowzero', 0) !== 0);
  try {
    return [move(x, ctx, (t) => ops.reshape(t, target))];
  } catch (e) {
    throw n.error(`cannot reshape [${x.shape.join(', ')}] to [${spec.join(', ')}]: ${(e as Error).message}`);
  }
});

const transposeRule = rule('Transpose', 13, (ins, n, ctx) => {
  const x = n.need(ins, 0);
  const perm = n.ints('perm') ?? range(x.shape.length).reverse();
  return [move(x, ctx, (t) => ops.permute(t, perm))];
});

const concatRule = rule('Concat', 13, (ins, n, ctx) => {
  const vs = ins.filter((v): v is Value => v !== null);
  if (!isNonEmpty(vs)) throw n.error('no inputs');
  const axis = n.axis(n.int('axis', 0), vs[0].shape.length);
  if (vs.every(isHost)) return [viaTensor((vs as HostTensor[]).some((v) => v.kind === 'float') ? 'float' : 'int', (...ts) => ops.concat(ts, axis), ...(vs as HostTensor[]))];
  return [ops.concat(vs.map((v) => asTensor(v, ctx)), axis)];
});

function splitRule(since: number): ImportRule {
  return rule('Split', since, (ins, n, ctx) => {
    const x = n.need(ins, 0);
    const axis = n.axis(n.int('axis', 0), x.shape.length);
    const d = at(x.shape, axis, 'split axis');
    let sizes: number[];
    if (ins[1]) sizes = n.hostInts(ins, 1, 'split');
    else {
      const parts = since >= 18 && n.has('num_outputs') ? n.int('num_outputs', 1) : n.node.outputs.length;
      const chunk = Math.ceil(d / parts);
      sizes = range(parts).map((i) => Math.max(0, Math.min(chunk, d - i * chunk)));
    }
    if (sizes.reduce((s, v) => s + v, 0) !== d) throw n.error(`split sizes ${JSON.stringify(sizes)} do not add up to ${d} along axis ${axis}`);
    let offset = 0;
    return sizes.map((s) => { const b = offset; offset += s; return move(x, ctx, (t) => ops.slice(t, axis, b, b + s)); });
  });
}

const sliceRule = rule('Slice', 13, (ins, n, ctx) => {
  const x = n.need(ins, 0);
  const shape = x.shape, r = shape.length;
  const starts = n.hostInts(ins, 1, 'starts'), ends = n.hostInts(ins, 2, 'ends');
  const axes = ins[3] ? n.hostInts(ins, 3, 'axes').map((a) => n.axis(a, r)) : range(starts.length);
  const steps = ins[4] ? n.hostInts(ins, 4, 'steps') : starts.map(() => 1);
  if (ends.length !== starts.length || axes.length !== starts.length || steps.length !== starts.length) throw n.error('starts, ends, axes and steps differ in length');
  const picks = shape.map((d) => range(d));
  axes.forEach((ax, k) => {
    const d = at(shape, ax, 'slice axis'), step = at(steps, k, 'slice steps');
    if (step === 0) throw n.error('a step is 0');
    const clampTo = (v: number, lo: number, hi: number): number => Math.min(Math.max(v, lo), hi);
    const start = at(starts, k, 'slice starts'), end = at(ends, k, 'slice ends');
    let s = start < 0 ? start + d : start;
    let e = end < 0 ? end + d : end;
    if (step > 0) { s = clampTo(s, 0, d); e = clampTo(e, 0, d); } else { s = clampTo(s, 0, d - 1); e = clampTo(e, -1, d - 1); }
    const p: number[] = [];
    for (let i = s; step > 0 ? i < e : i > e; i += step) p.push(i);
    picks[ax] = p;
  });
  const outShape = picks.map((p) => p.length);
  if (steps.every((s) => s === 1) && outShape.every((d) => d > 0)) {
    const ranges = picks.map((p): [number, number] => [at(p, 0, 'slice picks'), last(p, 'slice picks') + 1]);
    return [move(x, ctx, (t) => ops.sliceAxes(t, ranges))];
  }
  return [gatherFlat(x, ctx, indexGrid(shape, picks), outShape)];
});

const gatherRule = rule('Gather', 13, (ins, n, ctx) => {
  const x = n.need(ins, 0);
  const iv = n.need(ins, 1, 'indices');
  const ih = asHost(iv, 'int');
  const axis = n.axis(n.int('axis', 0), x.shape.length);
  const d = at(x.shape, axis, 'gather axis');
  const idx = Array.from(ih.data, (v) => {
    const i = v < 0 ? v + d : v;
    if (!Number.isInteger(i) || i < 0 || i >= d) throw n.error(`index ${v} is out of range for axis ${axis} of size ${d}`);
    return i;
  });
  const outShape = [...x.shape.slice(0, axis), ...ih.shape, ...x.shape.slice(axis + 1)];
  const picks = x.shape.map((s, i) => (i === axis ? idx : range(s)));
  return [gatherFlat(x, ctx, indexGrid(x.shape, picks), outShape)];
});

const unsqueezeRule = rule('Unsqueeze', 13, (ins, n, ctx) => {
  const x = n.need(ins, 0);
  const axesIn = n.hostInts(ins, 1, 'axes');
  const rank = x.shape.length + axesIn.length;
  const axes = axesIn.map((a) => n.axis(a, rank));
  const out: number[] = [];
  let k = 0;
  for (let i = 0; i < rank; i++) {
    if (axes.includes(i)) { out.push(1); continue; }
    const d = x.shape[k++];
    if (d === undefined) throw n.error(`axes ${JSON.stringify(axesIn)} name an axis twice`);
    out.push(d);
  }
  return [move(x, ctx, (t) => ops.reshape(t, out))];
});

const squeezeRule = rule('Squeeze', 13, (ins, n, ctx) => {
  const x = n.need(ins, 0);
  const axes = ins[1] ? n.hostInts(ins, 1, 'axes').map((a) => n.axis(a, x.shape.length)) : null;
  if (axes) for (const a of axes) if (x.shape[a] !== 1) throw n.error(`cannot squeeze axis ${a} of size ${x.shape[a]}`);
  const out = x.shape.filter((d, i) => (axes ? !axes.includes(i) : d !== 1));
  return [move(x, ctx, (t) => ops.reshape(t, out))];
});

function padRule(since: number): ImportRule {
  return rule('Pad', since, (ins, n, ctx) => {
    const x = n.need(ins, 0);
    const mode = n.str('mode', 'constant');
    if (mode !== 'constant') throw n.error(`mode ${mode} is not supported (only constant)`);
    const r = x.shape.length;
    const pads = n.hostInts(ins, 1, 'pads');
    const value = n.hostScalar(ins, 2, 'constant_value', 0);
    const axes = since >= 18 && ins[3] ? n.hostInts(ins, 3, 'axes').map((a) => n.axis(a, r)) : range(r);
    if (pads.length !== 2 * axes.length) throw n.error(`pads has ${pads.length} entries, expected ${2 * axes.length}`);
    if (pads.some((p) => p < 0)) throw n.error(`negative pads ${JSON.stringify(pads)} are not supported`);
    const widths: [number, number][] = x.shape.map(() => [0, 0]);
    axes.forEach((a, k) => { widths[a] = [at(pads, k, 'pads'), at(pads, k + axes.length, 'pads')]; });
    return [move(x, ctx, (t) => ops.padAxes(t, widths, value))];
  });
}

const expandRule = rule('Expand', 13, (ins, n, ctx) => {
  const x = n.need(ins, 0);
  const target = broadcastShapes('Expand', x.shape, n.hostInts(ins, 1, 'shape'));
  return [move(x, ctx, (t) => ops.expand(t, target))];
});

const identityRule = rule('Identity', 13, (ins, n) => [n.need(ins, 0)]);

// Dropout is the identity here: pai scores and warms up deterministic networks (the mask output, if
// wired, is all ones).
const dropoutRule: ImportRule = {
  domain: '', opType: 'Dropout', since: 13,
  run: (ins, n) => {
    const x = n.need(ins, 0);
    return [x, new HostTensor('bool', x.shape, new Float64Array(numel(x.shape)).fill(1))];
  },
};

const shapeRule = rule('Shape', 13, (ins, n) => {
  const dims = n.need(ins, 0).shape;
  const r = dims.length;
  const norm = (v: number): number => Math.min(Math.max(v < 0 ? v + r : v, 0), r);
  return [HostTensor.ints(dims.slice(norm(n.int('start', 0)), norm(n.int('end', r))))];
});

const FLOATS = new Set([1, 10, 11, 16]);
const INTS = new Set([2, 3, 4, 5, 6, 7, 12, 13]);

const castRule = rule('Cast', 13, (ins, n) => {
  const x = n.need(ins, 0), to = n.int('to', 0);
  if (FLOATS.has(to)) return [isHost(x) ? new HostTensor('float', x.shape, x.data) : x];
  if (INTS.has(to)) { const h = asHost(x); return [new HostTensor('int', h.shape, h.data.map(Math.trunc))]; }
  if (to === 9) { const h = asHost(x); return [new HostTensor('bool', h.shape, h.data.map((v) => (v !== 0 ? 1 : 0)))]; }
  throw n.error(`cast to data type ${to} is not supported`);
});

export const RULES: ImportRule[] = [
  flattenRule, reshapeRule, transposeRule, concatRule, splitRule(13), splitRule(18), sliceRule, gatherRule,
  unsqueezeRule, squeezeRule, padRule(13), padRule(18), expandRule, identityRule, dropoutRule, shapeRule, castRule,
];
