// Per-sample gradient kernels for the batched pruning criteria (see persample.cc).
#pragma once
#include "dnn.h"

namespace pai {

// For every sample n of x [n, c, h, w] and gy [n, oc, oh, ow], G_n is the weight gradient of conv2d
// at batch 1 ([oc, c / groups, kh, kw]); adds Σ_n G_n into sum (skipped when null) and Σ_n G_n²
// into sq (skipped when null). Accumulates: the caller initialises every output.
// When z ([n, oc, c / groups, kh, kw], one tensor per sample) is given, also adds Σ_n z_n ⊙ G_n into
// zacc. Null pointers skip their reduction.
void convWeightGradReduce(const float* x, const float* gy, float* sum, float* sq, const float* z, float* zacc, const ConvArgs& p);

}  // namespace pai
