// JPEG decoding for the folder datasets, with jpeg-js (pure JavaScript, so no native build or
// download at install time). Output is CHW RGB uint8; grayscale and CMYK images come out as 3
// channels, as PIL's convert('RGB') in the paper's torchvision pipeline would give.

import jpeg from 'jpeg-js';
import { DataError, checkIndex, type Dataset, type Sample } from '../dataset.js';
import { readBytes } from './files.js';
import { at } from '../../tensor/checked.js';

export interface DecodedImage { pixels: Uint8Array; height: number; width: number }

export function decodeJpeg(bytes: Uint8Array, file: string): DecodedImage {
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) {
    throw new DataError(`${file}: not a JPEG file (no start-of-image marker)`, { file });
  }
  let img: { width: number; height: number; data: Uint8Array };
  // Huffman coding spends at least one bit on every 8x8 luma block, so a file of L bytes holds at
  // most 8L blocks, 512L pixels. A corrupt frame header claiming more would otherwise make the
  // decoder allocate and fill the whole claimed frame (seconds and hundreds of MB for a 1 kB file).
  const maxPixels = Math.min(512 * bytes.length, 100e6);
  try {
    // Strict about missing blocks: a truncated file is an error, as it is for PIL by default.
    img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false, tolerantDecoding: false, maxMemoryUsageInMB: 1024, maxResolutionInMP: maxPixels / 1e6 });
  } catch (e) {
    const msg = (e as Error).message;
    const why = /^maxResolutionInMP/.test(msg) ? `its frame header declares more pixels than ${bytes.length} bytes can encode; corrupt header` : msg;
    throw new DataError(`${file}: JPEG does not decode (${why})`, { file, cause: e });
  }
  const { width, height, data } = img;
  const plane = width * height;
  if (plane === 0 || data.length !== plane * 3) {
    throw new DataError(`${file}: JPEG decodes to ${width}x${height} with ${data.length} bytes, not an RGB image`, { file });
  }
  const out = new Uint8Array(3 * plane);
  for (let p = 0, q = 0; p < plane; p++, q += 3) {
    const r = data[q], g = data[q + 1], b = data[q + 2];
    if (r === undefined || g === undefined || b === undefined) throw new RangeError('internal: readJpeg: fewer RGB values than pixels');
    out[p] = r;
    out[plane + p] = g;
    out[2 * plane + p] = b;
  }
  return { pixels: out, height, width };
}

export function readJpeg(file: string): DecodedImage {
  return decodeJpeg(readBytes(file), file);
}

/** Images kept on disk as JPEG files and decoded on each get(): only the paths live in memory. */
export class JpegFilesDataset implements Dataset {
  readonly name: string;
  readonly length: number;
  readonly numClasses: number;
  readonly shape: readonly [number, number, number] | null;
  readonly classNames?: readonly string[];
  readonly files: readonly string[];
  private readonly labelData: Int32Array;

  constructor(name: string, files: readonly string[], labels: Int32Array, numClasses: number,
    shape: readonly [number, number, number] | null, classNames?: readonly string[]) {
    if (files.length !== labels.length) throw new RangeError(`${name}: ${files.length} files but ${labels.length} labels`);
    this.name = name;
    this.files = Object.freeze([...files]);
    this.labelData = labels;
    this.length = files.length;
    this.numClasses = numClasses;
    this.shape = shape === null ? null : Object.freeze([shape[0], shape[1], shape[2]] as const);
    if (classNames) this.classNames = Object.freeze([...classNames]);
  }

  get(i: number): Sample {
    checkIndex(this, i);
    const file = at(this.files, i, 'image files');
    const img = readJpeg(file);
    if (this.shape !== null && (img.height !== this.shape[1] || img.width !== this.shape[2])) {
      throw new DataError(`${file}: image is ${img.width}x${img.height}, expected ${this.shape[2]}x${this.shape[1]} for ${this.name}`, { file });
    }
    return { pixels: img.pixels, shape: [3, img.height, img.width], label: at(this.labelData, i, 'labels') };
  }

  labels(): Int32Array {
    return this.labelData.slice();
  }
}
