// Reading an ONNX file: the ModelProto decoded with pai's schema, validated, and turned into plain
// records (nodes with decoded attributes, initializers as host arrays). Everything that pai cannot
// read faithfully is refused here with the file, the tensor or the node named.

import { readFileSync, statSync } from 'node:fs';
import protobufjs from 'protobufjs';
import { ONNX_SCHEMA } from '../../tensor/onnx-schema.js';
import { HostTensor, OnnxImportError, type HostKind } from './value.js';

/** The opsets whose graphs pai imports. */
/** The oldest ONNX opset pai imports. */
export const MIN_OPSET = 13;
/** The newest ONNX opset pai imports. */
export const MAX_OPSET = 18;
const MAX_FILE_BYTES = 2 ** 31 - 1;

export interface OnnxAttr {
  name: string;
  f?: number; i?: number; s?: string; t?: HostTensor;
  floats?: number[]; ints?: number[];
  /** Attribute types pai does not use (graphs, sparse tensors) are kept only by name. */
  other?: boolean;
}

export interface OnnxNode {
  name: string;
  opType: string;
  domain: string;
  inputs: string[];
  outputs: string[];
  attrs: Map<string, OnnxAttr>;
}

export interface OnnxValueInfo {
  name: string;
  /** Static sizes, null where the dimension is symbolic or unknown. */
  dims: (number | null)[] | null;
}

export interface OnnxGraph {
  source: string;
  opset: number;
  producer: string;
  nodes: OnnxNode[];
  /** In file order. */
  initializers: Map<string, HostTensor>;
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
}

let modelType: protobufjs.Type | null = null;
function onnxModelType(): protobufjs.Type {
  modelType ??= protobufjs.Root.fromJSON(ONNX_SCHEMA as unknown as protobufjs.INamespace).lookupType('onnx.ModelProto');
  return modelType;
}

/* eslint-disable @typescript-eslint/no-explicit-any */
type Obj = Record<string, any>;

const KINDS: Record<number, { kind: HostKind; name: string; bytes: number; read: (v: DataView, o: number) => number } | undefined> = {
  1: { kind: 'float', name: 'FLOAT', bytes: 4, read: (v, o) => v.getFloat32(o, true) },
  11: { kind: 'float', name: 'DOUBLE', bytes: 8, read: (v, o) => v.getFloat64(o, true) },
  2: { kind: 'int', name: 'UINT8', bytes: 1, read: (v, o) => v.getUint8(o) },
  3: { kind: 'int', name: 'INT8', bytes: 1, read: (v, o) => v.getInt8(o) },
  4: { kind: 'int', name: 'UINT16', bytes: 2, read: (v, o) => v.getUint16(o, true) },
  5: { kind: 'int', name: 'INT16', bytes: 2, read: (v, o) => v.getInt16(o, true) },
  6: { kind: 'int', name: 'INT32', bytes: 4, read: (v, o) => v.getInt32(o, true) },
  7: { kind: 'int', name: 'INT64', bytes: 8, read: (v, o) => clampInt(v.getBigInt64(o, true)) },
  12: { kind: 'int', name: 'UINT32', bytes: 4, read: (v, o) => v.getUint32(o, true) },
  9: { kind: 'bool', name: 'BOOL', bytes: 1, read: (v, o) => (v.getUint8(o) ? 1 : 0) },
};

/** int64 sentinels (INT64_MAX as a slice end) become ±2^53, which every consumer clamps. */
function clampInt(b: bigint): number {
  const lim = BigInt(Number.MAX_SAFE_INTEGER);
  return b > lim ? Number.MAX_SAFE_INTEGER : b < -lim ? -Number.MAX_SAFE_INTEGER : Number(b);
}

/** A TensorProto's values on the host; `where` names it in errors. */
export function decodeTensor(t: Obj, where: string): HostTensor {
  const dims: number[] = (t['dims'] ?? []).map(Number);
  if (dims.some((d) => !Number.isSafeInteger(d) || d < 0)) throw new OnnxImportError(`${where}: bad dimensions [${dims.join(', ')}]`);
  if ((t['externalData'] ?? []).length > 0 || t['dataLocation'] === 1) {
    const loc = (t['externalData'] ?? []).find((e: Obj) => e['key'] === 'location')?.['value'];
    throw new OnnxImportError(`${where}: its data is stored in an external file${loc ? ` (${loc})` : ''}; pai reads only self-contained ONNX files (under 2 GB). Save the model with its weights inside: onnx.save_model(model, path, save_as_external_data=False)`);
  }
  const n = dims.reduce((p, d) => p * d, 1);
  const code = Number(t['dataType'] ?? 0);
  const k = KINDS[code];
  if (!k) throw new OnnxImportError(`${where}: data type ${code} is not supported (supported: ${Object.values(KINDS).filter((x) => x !== undefined).map((x) => x.name).join(', ')})`);
  const out = new Float64Array(n);
  const raw: Uint8Array | undefined = t['rawData'];
  if (raw && raw.length > 0) {
    if (raw.length !== n * k.bytes) throw new OnnxImportError(`${where}: raw data holds ${raw.length} bytes, shape [${dims.join(', ')}] of ${k.name} needs ${n * k.bytes}`);
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    for (let i = 0; i < n; i++) out[i] = k.read(view, i * k.bytes);
  } else {
    const field = code === 1 ? 'floatData' : code === 11 ? 'doubleData' : code === 7 ? 'int64Data' : 'int32Data';
    const vals: unknown[] = t[field] ?? [];
    if (vals.length !== n) throw new OnnxImportError(`${where}: holds ${vals.length} values, shape [${dims.join(', ')}] needs ${n}`);
    for (let i = 0; i < n; i++) out[i] = Number(vals[i]);
  }
  return new HostTensor(k.kind, dims, out);
}

function decodeAttr(a: Obj, where: string): OnnxAttr {
  const name = String(a['name'] ?? '');
  const type = Number(a['type'] ?? 0);
  switch (type) {
    case 1: return { name, f: Number(a['f'] ?? 0) };
    case 2: return { name, i: Number(a['i'] ?? 0) };
    case 3: return { name, s: Buffer.from(a['s'] ?? []).toString('utf8') };
    case 4: return { name, t: decodeTensor(a['t'] ?? {}, `${where}, attribute ${name}`) };
    case 6: return { name, floats: (a['floats'] ?? []).map(Number) };
    case 7: return { name, ints: (a['ints'] ?? []).map(Number) };
    default: return { name, other: true };
  }
}

function valueInfo(v: Obj): OnnxValueInfo {
  const shape = v['type']?.['tensorType']?.['shape'];
  const dims = shape ? (shape['dim'] ?? []).map((d: Obj) => (d['dimValue'] !== undefined && d['dimValue'] !== null && Number(d['dimValue']) > 0 ? Number(d['dimValue']) : null)) : null;
  return { name: String(v['name'] ?? ''), dims };
}

/** Decodes and validates an ONNX file. */
export function readOnnx(path: string): OnnxGraph {
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    throw new OnnxImportError(`${path}: no such file`);
  }
  if (size > MAX_FILE_BYTES) throw new OnnxImportError(`${path}: ${size} bytes; ONNX files over 2 GB keep their weights in external data files, which pai does not read`);
  return parseOnnx(readFileSync(path), path);
}

export function parseOnnx(bytes: Uint8Array, source: string): OnnxGraph {
  const notOnnx = `${source}: not an ONNX model, or a truncated one`;
  if (bytes.length === 0) throw new OnnxImportError(`${source}: empty file, not an ONNX model`);
  let m: Obj;
  try {
    const T = onnxModelType();
    m = T.toObject(T.decode(bytes), { longs: Number, defaults: false, arrays: true }) as Obj;
  } catch (e) {
    throw new OnnxImportError(`${notOnnx} (protobuf decoding failed: ${(e as Error).message})`);
  }
  const g: Obj | undefined = m['graph'];
  if (!g || !(Number(m['irVersion'] ?? 0) >= 3) || (g['node'] ?? []).length === 0) {
    throw new OnnxImportError(`${notOnnx} (${!g ? 'no graph' : (g['node'] ?? []).length === 0 ? 'the graph has no nodes' : `IR version ${m['irVersion'] ?? 'missing'}`})`);
  }
  if ((m['functions'] ?? []).length > 0) throw new OnnxImportError(`${source}: the model defines ${m['functions'].length} local function(s); pai imports plain graphs of standard ops (export without custom functions)`);
  if ((g['sparseInitializer'] ?? []).length > 0) throw new OnnxImportError(`${source}: the graph has sparse initializers, which pai does not read`);
  const opsets: Obj[] = m['opsetImport'] ?? [];
  const main = opsets.find((o) => (o['domain'] ?? '') === '' || o['domain'] === 'ai.onnx');
  if (!main) throw new OnnxImportError(`${source}: no opset of the default ONNX domain is imported`);
  const opset = Number(main['version']);
  if (!(opset >= MIN_OPSET && opset <= MAX_OPSET)) {
    throw new OnnxImportError(`${source}: opset ${opset} is not supported; pai imports opsets ${MIN_OPSET} to ${MAX_OPSET} (torch.onnx.export(..., opset_version=${Math.min(MAX_OPSET, Math.max(MIN_OPSET, opset))}))`);
  }
  const initializers = new Map<string, HostTensor>();
  for (const t of g['initializer'] ?? []) {
    const name = String(t['name'] ?? '');
    if (name === '') throw new OnnxImportError(`${source}: an initializer has no name`);
    if (initializers.has(name)) throw new OnnxImportError(`${source}: initializer ${name} is defined twice`);
    initializers.set(name, decodeTensor(t, `${source}: initializer ${name}`));
  }
  const nodes: OnnxNode[] = (g['node'] as Obj[]).map((n, k) => {
    const name = String(n['name'] ?? '') || `#${k}`;
    const where = `${source}: node ${name} (${n['opType'] ?? '?'})`;
    const attrs = new Map<string, OnnxAttr>();
    for (const a of n['attribute'] ?? []) { const d = decodeAttr(a, where); attrs.set(d.name, d); }
    return {
      name, opType: String(n['opType'] ?? ''), domain: String(n['domain'] ?? ''),
      inputs: (n['input'] ?? []).map(String), outputs: (n['output'] ?? []).map(String), attrs,
    };
  });
  return {
    source, opset, producer: `${m['producerName'] ?? ''} ${m['producerVersion'] ?? ''}`.trim(), nodes, initializers,
    // Before IR 4, initializers were listed among the inputs too.
    inputs: (g['input'] ?? []).map(valueInfo).filter((v: OnnxValueInfo) => !initializers.has(v.name)),
    outputs: (g['output'] ?? []).map(valueInfo),
  };
}
