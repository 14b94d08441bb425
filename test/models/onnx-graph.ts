// Small ONNX graphs written in the tests, for ops the PyTorch fixtures do not reach: a builder over
// pai's schema, and onnxruntime-node (the ONNX reference runtime) to say what a graph computes.
import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';
import protobufjs from 'protobufjs';
import { ONNX_SCHEMA } from '../../src/tensor/onnx-schema.js';
import type { Tensor } from '../../src/tensor/tensor.js';

const MODEL = protobufjs.Root.fromJSON(ONNX_SCHEMA as unknown as protobufjs.INamespace).lookupType('onnx.ModelProto');

export type AttrValue = number | number[] | string | { float: number } | { floats: number[] } | { int64Tensor: number[] };

export interface NodeSpec { op: string; inputs: string[]; outputs: string[]; attrs?: Record<string, AttrValue> }

function attr(name: string, v: AttrValue): object {
  if (typeof v === 'string') return { name, type: 3, s: Buffer.from(v) };
  if (typeof v === 'number') return { name, type: 2, i: v };
  if (Array.isArray(v)) return { name, type: 7, ints: v };
  if ('float' in v) return { name, type: 1, f: v.float };
  if ('int64Tensor' in v) return { name, type: 4, t: { dims: [v.int64Tensor.length], dataType: 7, int64Data: v.int64Tensor } };
  return { name, type: 6, floats: v.floats };
}

export class GraphBuilder {
  private readonly nodes: object[] = [];
  private readonly inits: object[] = [];

  floats(name: string, dims: number[], values: ArrayLike<number>): string {
    this.inits.push({ name, dims, dataType: 1, floatData: Array.from(values) });
    return name;
  }

  ints(name: string, values: number[], dims: number[] = [values.length]): string {
    this.inits.push({ name, dims, dataType: 7, int64Data: values });
    return name;
  }

  node(op: string, inputs: string[], outputs: string[], attrs: Record<string, AttrValue> = {}): string {
    this.nodes.push({ name: `${op}_${this.nodes.length}`, opType: op, input: inputs, output: outputs, attribute: Object.entries(attrs).map(([k, v]) => attr(k, v)) });
    return outputs[0]!;
  }

  /** The ModelProto bytes: input [N, ...shape] float32, output `logits`. */
  encode(opset: number, inputShape: number[]): Uint8Array {
    const dim = (d: number | null): object => (d === null ? { dimParam: 'N' } : { dimValue: d });
    const vi = (name: string, dims: (number | null)[]): object => ({ name, type: { tensorType: { elemType: 1, shape: { dim: dims.map(dim) } } } });
    const msg = {
      irVersion: 8, opsetImport: [{ domain: '', version: opset }], producerName: 'pai-test',
      graph: { name: 'g', node: this.nodes, initializer: this.inits, input: [vi('input', [null, ...inputShape])], output: [vi('logits', [null, null])] },
    };
    return MODEL.encode(MODEL.fromObject(msg)).finish();
  }

  write(file: string, opset: number, inputShape: number[]): Uint8Array {
    const bytes = this.encode(opset, inputShape);
    writeFileSync(file, bytes);
    return bytes;
  }
}

interface OrtTensor { data: Float32Array; dims: readonly number[] }
interface Ort {
  InferenceSession: { create(bytes: Uint8Array): Promise<{ run(feeds: Record<string, unknown>): Promise<Record<string, OrtTensor>> }> };
  Tensor: new (type: 'float32', data: Float32Array, dims: readonly number[]) => unknown;
}

/** The graph's output on x, computed by onnxruntime. */
export async function ortRun(bytes: Uint8Array, x: Tensor): Promise<OrtTensor> {
  const ort = createRequire(import.meta.url)('onnxruntime-node') as Ort;
  const s = await ort.InferenceSession.create(bytes);
  return (await s.run({ input: new ort.Tensor('float32', Float32Array.from(x.data), x.shape) }))['logits']!;
}
