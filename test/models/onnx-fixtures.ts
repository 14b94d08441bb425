// The PyTorch-exported ONNX fixtures of test/fixtures/onnx (written by scripts/make-onnx-fixtures.py).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import protobufjs from 'protobufjs';
import { ONNX_SCHEMA } from '../../src/tensor/onnx-schema.js';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Tensor } from '../../src/tensor/tensor.js';
import { loadTensors } from '../../src/tensor/safetensors.js';

const here = dirname(fileURLToPath(import.meta.url));
/** Found from dist/test/models or test/models. */
export const ONNX_FIXTURES = [resolve(here, '../../../test/fixtures/onnx'), resolve(here, '../fixtures/onnx')].find((d) => existsSync(d))!;

export interface OnnxFixtureMeta {
  network: string;
  opset: number;
  extra_opsets: number[];
  batch: number;
  input_shape: number[];
  num_classes: number;
  parameters: { name: string; shape: number[] }[];
  buffers: { name: string; shape: number[] }[];
  prunable: string[];
  classifier: string;
  noise: Record<'logits' | 'grad' | 'hv' | 'snip' | 'fisher_diag', number>;
}

export const NETWORKS = ['resnet', 'vgg_bn', 'mobilenet_v3', 'mobilenet_v2', 'squeezenet', 'vit'] as const;

export function fixtureMeta(net: string): OnnxFixtureMeta {
  return JSON.parse(readFileSync(join(ONNX_FIXTURES, `${net}.meta.json`), 'utf8')) as OnnxFixtureMeta;
}

export function fixtureRef(net: string): Map<string, Tensor> {
  return loadTensors(join(ONNX_FIXTURES, `${net}.ref.safetensors`));
}

/** Every ONNX file of a network: its main export and the re-exports at other opsets. */
export function fixtureFiles(net: string): { file: string; opset: number }[] {
  const m = fixtureMeta(net);
  return [{ file: join(ONNX_FIXTURES, `${net}.onnx`), opset: m.opset }, ...m.extra_opsets.map((o) => ({ file: join(ONNX_FIXTURES, `${net}.opset${o}.onnx`), opset: o }))];
}

/**
 * Tensors under `prefix.` of the reference file must match `got` (by parameter name): |a - b| <=
 * 1e-4 |b| + floor, floor = max(1e-5, 5 noise) x the largest magnitude over the whole set, where
 * noise is PyTorch's own float32-vs-float64 difference for that quantity.
 */
export function compareSet(what: string, got: ReadonlyMap<string, Tensor>, ref: ReadonlyMap<string, Tensor>, prefix: string, noise: number): string[] {
  const want = [...ref].filter(([k]) => k.startsWith(`${prefix}.`)).map(([k, t]) => [k.slice(prefix.length + 1), t] as const);
  let scale = 0;
  for (const [, t] of want) for (let i = 0; i < t.size; i++) scale = Math.max(scale, Math.abs(t.data[i]!));
  const floor = Math.max(1e-5, 5 * noise) * scale;
  const bad: string[] = [];
  if (want.length !== got.size) bad.push(`${what}: ${got.size} tensors, PyTorch has ${want.length}`);
  for (const [name, w] of want) {
    const g = got.get(name);
    if (!g) { bad.push(`${what}: no ${name}`); continue; }
    if (g.size !== w.size) { bad.push(`${what} ${name}: ${g.size} values, PyTorch ${w.size}`); continue; }
    for (let i = 0; i < w.size; i++) {
      const err = Math.abs(g.data[i]! - w.data[i]!), tol = 1e-4 * Math.abs(w.data[i]!) + floor;
      if (!(err <= tol)) { bad.push(`${what} ${name}[${i}]: pai ${g.data[i]}, PyTorch ${w.data[i]} (tolerance ${tol.toExponential(2)})`); break; }
    }
  }
  return bad;
}

const MODEL_PROTO = protobufjs.Root.fromJSON(ONNX_SCHEMA as unknown as protobufjs.INamespace).lookupType('onnx.ModelProto');

/* eslint-disable @typescript-eslint/no-explicit-any */
/** A fixture (default: the VGG) decoded, changed by `edit`, and written to dir/name. */
export function editedOnnx(dir: string, name: string, edit: (m: any) => void, from = 'vgg_bn.onnx'): string {
  const m = MODEL_PROTO.toObject(MODEL_PROTO.decode(readFileSync(join(ONNX_FIXTURES, from))), { longs: Number, arrays: true }) as any;
  edit(m);
  const file = join(dir, name);
  writeFileSync(file, MODEL_PROTO.encode(MODEL_PROTO.fromObject(m)).finish());
  return file;
}
