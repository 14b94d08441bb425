// A dataset stored as tensors in a safetensors file: `x` NCHW float32 and `y` int64 or int32 class
// indices, the way PyTorch code saves a batch (and the golden fixtures are stored). The pixels are
// already floats (usually normalised), so this returns a tensor rather than the uint8 Dataset.

import { DataError } from '../dataset.js';
import type { Tensor } from '../../tensor/tensor.js';
import { readSafetensors, toTensor, SafetensorsError, type StFile } from '../../tensor/safetensors.js';
import { at } from '../../tensor/checked.js';
import { hasRank } from '../../tensor/shape.js';

/** A dataset read from a safetensors file: the images, the labels and the Dataset over them. */
export interface TensorDataset {
  x: Tensor;
  y: Int32Array;
  metadata: Record<string, string>;
}

/** Options of `loadTensorDataset`. */
export interface TensorDatasetOptions {
  /** Names of the two tensors (default 'x' and 'y'). */
  xName?: string;
  yName?: string;
  /** When given, every label must be below it. */
  numClasses?: number;
}

/** A dataset from a safetensors file holding images `x` [N, C, H, W] (uint8 or float in [0, 1]) and labels `y` [N]. */
export function loadTensorDataset(path: string, o: TensorDatasetOptions = {}): TensorDataset {
  const xName = o.xName ?? 'x', yName = o.yName ?? 'y';
  let file: StFile;
  try {
    file = readSafetensors(path);
  } catch (e) {
    if (e instanceof SafetensorsError) throw new DataError(`${path}: ${e.message}`, { file: path, cause: e });
    throw e;
  }
  const xe = file.tensors.get(xName), ye = file.tensors.get(yName);
  const names = [...file.tensors.keys()].join(', ') || 'none';
  if (!xe) throw new DataError(`${path}: no tensor "${xName}" (tensors: ${names})`, { file: path });
  if (!ye) throw new DataError(`${path}: no tensor "${yName}" (tensors: ${names})`, { file: path });
  if (xe.dtype !== 'F32') throw new DataError(`${path}: "${xName}" is ${xe.dtype}, expected F32`, { file: path });
  if (!hasRank(xe.shape, 4)) throw new DataError(`${path}: "${xName}" has shape [${xe.shape.join(', ')}], expected NCHW (4 dimensions)`, { file: path });
  if (ye.dtype !== 'I64' && ye.dtype !== 'I32') throw new DataError(`${path}: "${yName}" is ${ye.dtype}, expected I64 or I32`, { file: path });
  const n = xe.shape[0];
  if (ye.shape.length !== 1 || ye.shape[0] !== n) {
    throw new DataError(`${path}: "${yName}" has shape [${ye.shape.join(', ')}], expected [${n}] to label the ${n} images of "${xName}"`, { file: path });
  }
  const y = new Int32Array(n);
  const limit = o.numClasses ?? 2 ** 31 - 1;
  for (let i = 0; i < n; i++) {
    const v = Number(at<number | bigint>(ye.data, i, 'labels'));
    if (!Number.isInteger(v) || v < 0 || v >= limit) {
      throw new DataError(`${path}: label ${v} at index ${i} of "${yName}" is outside 0..${limit - 1}`, { file: path });
    }
    y[i] = v;
  }
  let x: Tensor;
  try {
    x = toTensor(xe, `${path}: tensor "${xName}"`);
  } catch (e) {
    throw new DataError(`${path}: ${(e as Error).message}`, { file: path, cause: e });
  }
  return { x, y, metadata: file.metadata };
}
