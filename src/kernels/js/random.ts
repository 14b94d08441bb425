// Rademacher fill from an xoshiro128** state (see Backend.rademacherFill). The definition shared
// with src/tensor/random.ts: one generator step per value, the sign from bit 0 of the output.

import type { FloatArray } from '../interface.js';

export function rademacherFill(state: Uint32Array, out: FloatArray): void {
  if (state.length !== 4) throw new Error(`rademacherFill: state must hold 4 words, got ${state.length}`);
  // Locals, not typed-array reads per step: this loop covers every weight of a model per probe.
  let s0 = state[0]! | 0, s1 = state[1]! | 0, s2 = state[2]! | 0, s3 = state[3]! | 0;
  for (let i = 0; i < out.length; i++) {
    // Bit 0 of rotl(s1 * 5, 7) * 9 is bit 25 of s1 * 5 (9 is odd; the rotation moves bit 25 to 0).
    out[i] = (Math.imul(s1, 5) & 0x2000000) === 0 ? 1 : -1;
    const t = s1 << 9;
    s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3;
    s2 ^= t;
    s3 = (s3 << 11) | (s3 >>> 21);
  }
  state[0] = s0; state[1] = s1; state[2] = s2; state[3] = s3;
}
