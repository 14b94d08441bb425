// Random fills that must reproduce pai's JavaScript generator (src/tensor/random.ts) bit for bit.
#pragma once
#include <cstdint>

namespace pai {

// xoshiro128** from state s[0..3] (advanced in place): out[i] = +1 when bit 0 of draw i is 0, else -1.
void rademacherFill(uint32_t* s, float* out, int64_t n);

}  // namespace pai
