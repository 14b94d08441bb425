// ONNX out for a model that came from ONNX: the original graph written back with the model's
// current tensors (pruned, warmed up or trained) as its initializers. Nothing is re-traced, so
// every node, attribute and name of the user's file is kept; only the weights change. Identity
// nodes through which the exporter shared equal initial values are replaced by initializers of
// their own, since the tensors they copied may differ now.

import { readFileSync } from 'node:fs';
import protobufjs from 'protobufjs';
import type { OnnxModel } from '../models/onnx/index.js';
import { ONNX_FLOAT, ONNX_SCHEMA } from '../tensor/onnx-schema.js';
import { ExportError } from './onnx.js';

let modelType: protobufjs.Type | null = null;
function onnxModelType(): protobufjs.Type {
  modelType ??= protobufjs.Root.fromJSON(ONNX_SCHEMA as unknown as protobufjs.INamespace).lookupType('onnx.ModelProto');
  return modelType;
}

/* eslint-disable @typescript-eslint/no-explicit-any */
/**
 * The imported graph written back as ONNX bytes with the model's current (pruned) weights in place of
 * its initializers, and how many initializers were replaced.
 */
export function rewriteOnnx(model: OnnxModel, o: { metadata?: Record<string, string> } = {}): { bytes: Uint8Array; initializers: number } {
  const T = onnxModelType();
  const m = T.toObject(T.decode(readFileSync(model.source)), { longs: Number, arrays: true }) as any;
  const state = new Map(model.stateDict());
  for (const [n, t] of state) if (t.dtype !== 'float32') throw new ExportError(`${n} is ${t.dtype}; ONNX export needs a float32 model`);
  const written = new Set<string>();
  const inits: any[] = m.graph.initializer.map((t: any) => {
    const cur = state.get(t.name);
    if (!cur) return t;
    written.add(t.name);
    return { name: t.name, dims: [...cur.shape], dataType: ONNX_FLOAT, rawData: new Uint8Array(Float32Array.from(cur.data).buffer) };
  });
  for (const [n, t] of state) {
    if (!written.has(n)) inits.push({ name: n, dims: [...t.shape], dataType: ONNX_FLOAT, rawData: new Uint8Array(Float32Array.from(t.data).buffer) });
  }
  m.graph.initializer = inits;
  const names = new Set(inits.map((t: any) => t.name));
  m.graph.node = m.graph.node.filter((n: any) => !(n.opType === 'Identity' && (n.output ?? []).every((x: string) => names.has(x))));
  const meta = o.metadata;
  if (meta) m.metadataProps = [...(m.metadataProps ?? []).filter((p: any) => !(p.key in meta)), ...Object.entries(meta).map(([key, value]) => ({ key, value }))];
  const err = T.verify(m);
  if (err) throw new Error(`rewriteOnnx: internal error building the ModelProto: ${err}`);
  return { bytes: T.encode(T.fromObject(m)).finish(), initializers: inits.length };
}
