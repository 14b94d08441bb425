// A seeded generator with named, independent streams. Every random choice in pai (initialisation,
// data order, augmentation, Hutchinson probes, random masks) draws from a stream derived from one
// experiment seed and the stream's name, so adding draws to one stream never shifts another.
// xoshiro128** on 32-bit words keeps it fast in JavaScript without BigInt.

import { backendFor } from '../kernels/index.js';
import { at } from './checked.js';

function splitmix32(state: number): () => number {
  let s = state >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** FNV-1a over the UTF-16 code units of a name, mixed with the seed. */
function hashName(seed: number, name: string): number {
  let h = (0x811c9dc5 ^ (seed >>> 0)) >>> 0;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  // Fold in the high part of seeds above 2^32 so that large seeds stay distinct.
  h ^= Math.floor(seed / 4294967296) >>> 0;
  return Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 0;
}

/** A seeded random generator with named, independent streams (`gen.stream('init')`), so that drawing from one never shifts another. */
export class Generator {
  private s0: number; private s1: number; private s2: number; private s3: number;
  private spareNormal: number | null = null;
  readonly seed: number;
  readonly path: string;

  constructor(seed: number, path = '') {
    if (!Number.isFinite(seed) || !Number.isInteger(seed) || seed < 0) {
      throw new RangeError(`Generator: seed must be a non-negative integer, got ${seed}`);
    }
    this.seed = seed;
    this.path = path;
    const next = splitmix32(hashName(seed, path));
    this.s0 = next(); this.s1 = next(); this.s2 = next(); this.s3 = next();
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** An independent generator for the named stream; the same name always gives the same stream. */
  stream(name: string): Generator {
    return new Generator(this.seed, this.path === '' ? name : `${this.path}/${name}`);
  }

  /** A uniform 32-bit unsigned integer. */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.s1 << 9) >>> 0;
    this.s2 ^= this.s0; this.s3 ^= this.s1; this.s1 ^= this.s2; this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    this.s0 >>>= 0; this.s1 >>>= 0; this.s2 >>>= 0; this.s3 >>>= 0;
    return result;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  uniform(): number {
    const hi = this.nextU32() >>> 5; // 27 bits
    const lo = this.nextU32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Standard normal by the polar Box-Muller method. */
  normal(): number {
    if (this.spareNormal !== null) {
      const v = this.spareNormal;
      this.spareNormal = null;
      return v;
    }
    let u: number, v: number, s: number;
    do {
      u = 2 * this.uniform() - 1;
      v = 2 * this.uniform() - 1;
      s = u * u + v * v;
    } while (s >= 1 || s === 0);
    const f = Math.sqrt(-2 * Math.log(s) / s);
    this.spareNormal = v * f;
    return u * f;
  }

  /** Uniform integer in [0, n), without modulo bias. */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > 4294967296) throw new RangeError(`Generator.int: bad bound ${n}`);
    const limit = 4294967296 - (4294967296 % n);
    let x: number;
    do x = this.nextU32(); while (x >= limit);
    return x % n;
  }

  /** A uniformly random permutation of 0..n-1 (Fisher-Yates). */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const a = p[i], b = p[j];
      if (a === undefined || b === undefined) throw new RangeError('internal: permutation: index outside the array');
      p[i] = b; p[j] = a;
    }
    return p;
  }

  /** +1 or -1 with equal probability. */
  rademacher(): number {
    return (this.nextU32() & 1) === 0 ? 1 : -1;
  }

  /** Fills `out` with uniform values in [low, high). */
  fillUniform(out: Float32Array | Float64Array, low = 0, high = 1): void {
    const w = high - low;
    for (let i = 0; i < out.length; i++) out[i] = low + w * this.uniform();
  }

  /** Fills `out` with normal values of the given mean and standard deviation. */
  fillNormal(out: Float32Array | Float64Array, mean = 0, std = 1): void {
    for (let i = 0; i < out.length; i++) out[i] = mean + std * this.normal();
  }

  /**
   * The same draws as calling rademacher() per value, through the backend's kernel: Hutchinson
   * probes cover every parameter per probe, where a method call per value cost ~37 ns a value.
   */
  fillRademacher(out: Float32Array | Float64Array): void {
    const st = Uint32Array.of(this.s0, this.s1, this.s2, this.s3);
    backendFor(out instanceof Float64Array ? 'float64' : 'float32').rademacherFill(st, out);
    this.s0 = at(st, 0, 'generator state'); this.s1 = at(st, 1, 'generator state');
    this.s2 = at(st, 2, 'generator state'); this.s3 = at(st, 3, 'generator state');
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
