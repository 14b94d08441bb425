// Rademacher probes for the Hutchinson criteria: one xoshiro128** step per value, as the
// JavaScript generator draws them, so a seed gives the same probes on every backend. In C++ a step
// costs about a nanosecond against ~8 in JavaScript, which matters when every probe covers all 11
// million weights of a ResNet-18.
//
// Each state follows from the last, but the step is linear over GF(2): the state after k steps is
// T^k s for a fixed 128x128 bit matrix T. A long fill is therefore split between the threads, each
// starting from T^lo s (a product with the precomputed powers T^(2^j), one per set bit of lo), and
// the values and the final state are the sequential ones bit for bit.
#include "rng.h"

#include <omp.h>

#include <algorithm>
#include <vector>

namespace pai {
namespace {

// Below this many values a fill runs on one thread: waking the team costs more than it saves.
constexpr int64_t kParallelMin = int64_t(1) << 18;

inline void step(uint32_t& s0, uint32_t& s1, uint32_t& s2, uint32_t& s3) {
  const uint32_t t = s1 << 9;
  s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3;
  s2 ^= t;
  s3 = (s3 << 11) | (s3 >> 21);
}

void fillSequential(uint32_t* st, float* out, int64_t n) {
  uint32_t s0 = st[0], s1 = st[1], s2 = st[2], s3 = st[3];
  for (int64_t i = 0; i < n; ++i) {
    // Bit 0 of rotl(s1 * 5, 7) * 9 is bit 25 of s1 * 5 (9 is odd; the rotation moves bit 25 to 0).
    // Arithmetic, not a branch: the bit is random, so a branch on it is mispredicted every other
    // value (4 ns a value with the branch, against 1.1 without, on a Zen 5).
    const uint32_t bit = ((s1 * 5u) >> 25) & 1u;
    out[i] = 1.f - 2.f * (float)bit;
    step(s0, s1, s2, s3);
  }
  st[0] = s0; st[1] = s1; st[2] = s2; st[3] = s3;
}

// A 128-bit state as 4 words, and a 128x128 matrix over GF(2) as its 128 columns: column b is the
// image of the state with only bit b set (bit b of word b / 32).
struct State { uint32_t w[4]; };
struct Matrix { State col[128]; };

State apply(const Matrix& m, const State& v) {
  State r{{0, 0, 0, 0}};
  for (int b = 0; b < 128; ++b) {
    if ((v.w[b >> 5] >> (b & 31)) & 1u) {
      for (int k = 0; k < 4; ++k) r.w[k] ^= m.col[b].w[k];
    }
  }
  return r;
}

// powers[j] = T^(2^j), j < 64: built once, on first use (a C++ static is initialised thread-safely).
const std::vector<Matrix>& powers() {
  static const std::vector<Matrix> p = [] {
    std::vector<Matrix> ps(64);
    for (int b = 0; b < 128; ++b) {
      State e{{0, 0, 0, 0}};
      e.w[b >> 5] = 1u << (b & 31);
      step(e.w[0], e.w[1], e.w[2], e.w[3]);
      ps[0].col[b] = e;
    }
    for (int j = 1; j < 64; ++j) {
      for (int b = 0; b < 128; ++b) ps[j].col[b] = apply(ps[j - 1], ps[j - 1].col[b]);
    }
    return ps;
  }();
  return p;
}

// The state k steps after s.
State advance(State s, int64_t k) {
  const std::vector<Matrix>& p = powers();
  for (int j = 0; k != 0; ++j, k >>= 1) {
    if (k & 1) s = apply(p[(size_t)j], s);
  }
  return s;
}

}  // namespace

void rademacherFill(uint32_t* st, float* out, int64_t n) {
  const int64_t threads = std::min<int64_t>(omp_get_max_threads(), n / (kParallelMin / 2));
  if (n < kParallelMin || threads < 2) {
    fillSequential(st, out, n);
    return;
  }
  const State s{{st[0], st[1], st[2], st[3]}};
  const int64_t per = (n + threads - 1) / threads;
#pragma omp parallel for num_threads((int)threads) schedule(static, 1)
  for (int64_t t = 0; t < threads; ++t) {
    const int64_t lo = t * per, hi = std::min(n, lo + per);
    if (lo >= hi) continue;
    State part = advance(s, lo);
    fillSequential(part.w, out + lo, hi - lo);
  }
  const State end = advance(s, n);
  for (int k = 0; k < 4; ++k) st[k] = end.w[k];
}

}  // namespace pai
