// Rademacher probes for the Hutchinson criteria: one xoshiro128** step per value, as the
// JavaScript generator draws them, so a seed gives the same probes on every backend. Sequential by
// nature (each state follows from the last); in C++ a step costs about a nanosecond against ~8 in
// JavaScript, which matters when every probe covers all 11 million weights of a ResNet-18.
#include "rng.h"

namespace pai {

void rademacherFill(uint32_t* st, float* out, int64_t n) {
  uint32_t s0 = st[0], s1 = st[1], s2 = st[2], s3 = st[3];
  for (int64_t i = 0; i < n; ++i) {
    // Bit 0 of rotl(s1 * 5, 7) * 9 is bit 25 of s1 * 5 (9 is odd; the rotation moves bit 25 to 0).
    // Arithmetic, not a branch: the bit is random, so a branch on it is mispredicted every other
    // value (4 ns a value with the branch, against 1.1 without, on a Zen 5).
    const uint32_t bit = ((s1 * 5u) >> 25) & 1u;
    out[i] = 1.f - 2.f * (float)bit;
    const uint32_t t = s1 << 9;
    s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3;
    s2 ^= t;
    s3 = (s3 << 11) | (s3 >> 21);
  }
  st[0] = s0; st[1] = s1; st[2] = s2; st[3] = s3;
}

}  // namespace pai
