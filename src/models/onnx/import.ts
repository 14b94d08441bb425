// importOnnx: an ONNX file (opset 13-18, as torch.onnx.export writes it) as a pai Model.
//
// At import the graph is checked (one input, one output, every node input defined, no cycle, every
// op known at the graph's opset), sorted, and every node whose inputs are all constants is run once
// and replaced by its result (Constant nodes, shape literals). Shape arithmetic on activations
// (Shape -> Gather -> Concat -> Reshape) runs on host integers in each forward pass, where the
// batch size is known; it is never recorded by autograd.
//
// Initializers: float tensors of rank >= 1 become parameters, the running mean and variance of
// batch norm nodes buffers, integer and scalar ones constants. PyTorch's exporter stores equal
// initializers once and re-creates the others with Identity nodes; those are split back into
// separate parameters under their own names, as in the state dict.

import { resolve } from 'node:path';
import { noGrad } from '../../autograd/graph.js';
import { Tensor } from '../../tensor/tensor.js';
import { zeros } from '../../tensor/create.js';
import { at, defined, hasLength, last, zip } from '../../tensor/checked.js';
import { hasRank } from '../../tensor/shape.js';
import { OnnxModel, OnnxScope, type OnnxStep } from './model.js';
import { readOnnx, type OnnxGraph, type OnnxNode } from './proto.js';
import { resolveRule } from './registry.js';
import { NodeView } from './rule.js';
import { HostTensor, OnnxImportError, isHost, type Value } from './value.js';
import type { Module } from '../../nn/module.js';

/** How files and reports name an imported model: onnx:<absolute path>. */
export const ONNX_MODEL_PREFIX = 'onnx:';
export function onnxModelName(path: string): string {
  return `${ONNX_MODEL_PREFIX}${resolve(path)}`;
}
/** The file of an onnx:<path> model name, or null for a zoo name. */
export function onnxPathOf(name: string): string | null {
  return name.startsWith(ONNX_MODEL_PREFIX) ? name.slice(ONNX_MODEL_PREFIX.length) : null;
}

/** Options of importOnnx: which weights are prunable beyond the default rule. */
export interface OnnxImportOptions {
  /** Patterns (`*`, `?`) of parameters to add to the fixed prunable set. */
  include?: readonly string[];
  /** Patterns of parameters to leave out of it. */
  exclude?: readonly string[];
}

/** Ops whose weight input makes a prunable layer, and which inputs may hold it. */
const LAYER_INPUTS: Record<string, number[]> = { Conv: [1], Gemm: [0, 1], MatMul: [0, 1] };
/** Ops a weight may pass through on its way to a layer (PyTorch writes x @ Wᵀ as Transpose + MatMul). */
const WEIGHT_PASS = new Set(['Transpose', 'Identity']);

function where(g: OnnxGraph, n: OnnxNode): string {
  return `${g.source}: node ${n.name} (${n.opType})`;
}

/** Identity nodes that copy a float initializer become initializers of their own (see above). */
function splitDeduplicated(g: OnnxGraph): OnnxNode[] {
  return g.nodes.filter((n) => {
    const only = n.inputs.length === 1 ? n.inputs[0] : undefined;
    const src = n.opType === 'Identity' && only !== undefined ? g.initializers.get(only) : undefined;
    if (!src || src.kind !== 'float' || src.shape.length === 0 || !n.outputs[0] || g.initializers.has(n.outputs[0])) return true;
    g.initializers.set(n.outputs[0], new HostTensor(src.kind, src.shape, src.data.slice()));
    return false;
  });
}

/** Kahn's order; names the first undefined input, or the nodes on a cycle. */
function sortNodes(g: OnnxGraph, nodes: OnnxNode[], input: string): OnnxNode[] {
  const producer = new Map<string, number>();
  nodes.forEach((n, i) => n.outputs.forEach((o) => {
    if (o === '') return;
    if (producer.has(o) || g.initializers.has(o) || o === input) throw new OnnxImportError(`${where(g, n)}: output ${o} is defined twice`);
    producer.set(o, i);
  }));
  const waiting = nodes.map(() => 0);
  const users = nodes.map((): number[] => []);
  nodes.forEach((n, i) => {
    for (const x of n.inputs) {
      if (x === '' || x === input || g.initializers.has(x)) continue;
      const p = producer.get(x);
      if (p === undefined) throw new OnnxImportError(`${where(g, n)}: input ${x} is not a graph input, an initializer or a node output (a missing initializer?)`);
      waiting[i] = at(waiting, i, 'inputs waiting per node') + 1;
      at(users, p, 'users per node').push(i);
    }
  });
  const ready = nodes.map((_, i) => i).filter((i) => waiting[i] === 0);
  const order: OnnxNode[] = [];
  // The loop also visits the nodes it appends to `ready`.
  for (const i of ready) {
    order.push(at(nodes, i, 'nodes'));
    for (const u of at(users, i, 'users per node')) {
      const w = at(waiting, u, 'inputs waiting per node') - 1;
      waiting[u] = w;
      if (w === 0) ready.push(u);
    }
  }
  if (order.length < nodes.length) {
    const stuck = zip(nodes, waiting, 'nodes and their waiting inputs').filter(([, w]) => w > 0).map(([n]) => `${n.name} (${n.opType})`);
    throw new OnnxImportError(`${g.source}: the graph has a cycle through ${stuck.slice(0, 8).join(', ')}${stuck.length > 8 ? ` and ${stuck.length - 8} more` : ''}`);
  }
  return order;
}

/** Registers a tensor under a dotted name, creating the scope modules along the way. */
function place(root: Module, name: string, t: Tensor, buffer: boolean, source: string): void {
  const parts = name.split('.');
  if (parts.some((p) => p === '')) throw new OnnxImportError(`${source}: initializer name ${JSON.stringify(name)} has an empty part between dots`);
  let m: Module = root;
  for (const p of parts.slice(0, -1)) {
    if (m.getParameter(p) || m.getBuffer(p)) throw new OnnxImportError(`${source}: initializer ${name} nests under ${p}, which is itself an initializer`);
    m = m.getModule(p) ?? m.registerModule(p, new OnnxScope());
  }
  const leaf = last(parts, 'initializer name parts');
  if (m.getModule(leaf)) throw new OnnxImportError(`${source}: initializer ${name} is also the prefix of other initializers`);
  if (buffer) m.registerBuffer(leaf, t);
  else m.registerParameter(leaf, t);
}

const GENERATED = /::|^\d+$/;

/**
 * Reads an ONNX file exported from PyTorch into a pai Model: its initializers become parameters and
 * buffers under their ONNX names, its nodes run as pai's differentiable ops (see the README's "Your own model").
 */
export function importOnnx(path: string, o: OnnxImportOptions = {}): OnnxModel {
  const g = readOnnx(path);
  if (!hasLength(g.inputs, 1)) throw new OnnxImportError(`${g.source}: the graph has ${g.inputs.length} inputs (${g.inputs.map((i) => i.name).join(', ')}); pai imports networks with one image input`);
  if (!hasLength(g.outputs, 1)) throw new OnnxImportError(`${g.source}: the graph has ${g.outputs.length} outputs (${g.outputs.map((i) => i.name).join(', ')}); pai imports networks with one output (the logits)`);
  const [input] = g.inputs, output = g.outputs[0].name;
  const dims = input.dims;
  const [, channels, size, width] = dims ?? [];
  if (!dims || dims.length !== 4 || typeof channels !== 'number' || typeof size !== 'number' || size !== width) {
    throw new OnnxImportError(`${g.source}: input ${input.name} has shape [${dims?.map((d) => d ?? '?').join(', ') ?? 'unknown'}]; pai imports image networks with input [N, C, S, S] (static channels and a square size)`);
  }
  const nodes = sortNodes(g, splitDeduplicated(g), input.name);
  const steps: OnnxStep[] = nodes.map((node) => ({ node, view: new NodeView(node, g.source), rule: resolveRule(node.domain, node.opType, g.opset, where(g, node)) }));

  // Which float initializers are state, and which of those are batch-norm buffers.
  const buffers = new Set<string>();
  for (const n of nodes) if (n.opType === 'BatchNormalization') for (const k of [3, 4]) if (n.inputs[k]) buffers.add(n.inputs[k]);
  const state = [...g.initializers].filter(([, t]) => t.kind === 'float' && t.shape.length > 0);
  const stateNames = new Set(state.map(([n]) => n));
  const constants = new Map<string, HostTensor>([...g.initializers].filter(([n]) => !stateNames.has(n)));

  // Fold every stateless node whose inputs are all constants.
  const kept: OnnxStep[] = [];
  for (const s of steps) {
    const ins = s.node.inputs.map((x) => (x === '' ? null : constants.get(x)));
    if (s.rule.stateful || ins.some((v) => v === undefined)) { kept.push(s); continue; }
    let outs: Value[];
    try {
      outs = s.rule.run(ins as (HostTensor | null)[], s.view, { training: false, dtype: 'float64' });
    } catch (e) {
      if (e instanceof OnnxImportError) throw e;
      throw s.view.error((e as Error).message);
    }
    if (!outs.every((v, k) => isHost(v) || s.node.outputs[k] === '' || s.node.outputs[k] === undefined)) { kept.push(s); continue; }
    s.node.outputs.forEach((name, k) => { if (name !== '' && outs[k]) constants.set(name, outs[k] as HostTensor); });
  }

  // Prunable layers: initializers reaching a Conv / Gemm / MatMul weight input through Transposes.
  const producer = new Map<string, OnnxNode>();
  for (const n of nodes) for (const x of n.outputs) producer.set(x, n);
  const weightOf = (name: string): string | null => {
    for (let k = 0; k < 16; k++) {
      if (stateNames.has(name)) return buffers.has(name) ? null : name;
      const p = producer.get(name);
      if (!p || !WEIGHT_PASS.has(p.opType)) return null;
      // A pass-through node without an input leads to no initializer.
      const from = p.inputs[0];
      if (from === undefined) return null;
      name = from;
    }
    return null;
  };
  const layerOf = new Map<OnnxNode, string>();
  for (const n of nodes) {
    for (const k of LAYER_INPUTS[n.opType] ?? []) {
      const w = n.inputs[k] ? weightOf(n.inputs[k]) : null;
      if (w && defined(g.initializers.get(w), 'initializer of a layer weight').shape.length >= 2) { layerOf.set(n, w); break; }
    }
  }
  // The classifier: the layer met first walking back from the output.
  let classifier: string | null = null;
  const seen = new Set<string>([output]);
  // The loop also visits the names it appends to `queue`.
  const queue = [output];
  for (const name of queue) {
    const p = producer.get(name);
    if (!p) continue;
    const layer = layerOf.get(p);
    if (layer !== undefined) { classifier = layer; break; }
    for (const x of p.inputs) if (x && !seen.has(x)) { seen.add(x); queue.push(x); }
  }

  const warnings: string[] = [];
  const generated = state.map(([n]) => n).filter((n) => GENERATED.test(n));
  if (generated.length > 0) {
    warnings.push(`${generated.length} of ${state.length} parameters have names the exporter generated (${generated.slice(0, 3).join(', ')}${generated.length > 3 ? ', ...' : ''}), not state-dict names: PyTorch renames parameters it changed while exporting, most often when it folds batch norm into the convolutions before it (torch.onnx.export's default TrainingMode.EVAL) or folds constants. Masks and scores for them will not load into your model by name. Re-export with model.eval(), training=torch.onnx.TrainingMode.PRESERVE and do_constant_folding=False (see the README, "Your own model").`);
  }
  if (dims[0] !== null) warnings.push(`input ${input.name} has a fixed batch size of ${dims[0]}; if the graph computes shapes from it, other batch sizes fail. Export with dynamic_axes={"${input.name}": {0: "N"}}.`);

  const spec = {
    source: g.source, opset: g.opset, producer: g.producer,
    input: { name: input.name, dims: [null, ...dims.slice(1)] }, output,
    steps: kept, constants, prunable: [] as string[], classifier,
    config: { numClasses: 1, inChannels: channels, width: 1, imageSize: size, init: 'default' as const },
    warnings,
  };
  const model = new OnnxModel(spec);
  for (const [name, t] of state) {
    place(model, name, new Tensor(Float32Array.from(t.data), t.shape), buffers.has(name), g.source);
  }
  const layerWeights = new Set(layerOf.values());
  spec.prunable.push(...model.namedParameters().map(([n]) => n).filter((n) => layerWeights.has(n)));
  // One eval forward on a zero image checks the graph end to end and gives the output size.
  model.eval();
  const y = noGrad(() => model.forward(zeros([1, channels, size, size])));
  if (!hasRank(y.shape, 2)) throw new OnnxImportError(`${g.source}: output ${output} has shape [${y.shape.join(', ')}] for one image; pai imports classifiers with output [N, classes]`);
  spec.config.numClasses = y.shape[1];
  if (o.include || o.exclude) model.setPrunablePatterns(o);
  return model;
}
