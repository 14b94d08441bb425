// oneDNN-backed kernels: matmul and the three convolution passes. Buffers are the caller's
// (JS typed-array memory, zero copy); throws std::exception subclasses on failure.
#pragma once
#include <cstdint>

namespace pai {

struct MatmulArgs {
  int64_t batch, m, k, n;
  bool transA, transB;
  int64_t aBatchStride, bBatchStride;
  bool accumulate;
};

struct ConvArgs {
  int64_t n, c, h, w, oc, kh, kw, oh, ow, sh, sw, ph, pw, dh, dw, groups;
};

void dnnMatmul(const float* a, const float* b, float* out, const MatmulArgs& p);
void dnnConvForward(const float* x, const float* w, const float* bias, float* y, const ConvArgs& p);
void dnnConvBackwardData(const float* gy, const float* w, float* gx, const ConvArgs& p);
void dnnConvBackwardWeight(const float* x, const float* gy, float* gw, const ConvArgs& p);
// Drops cached primitives, e.g. after the thread count changed (primitives are built for one).
void dnnClearCache();
const char* dnnVersion();

}  // namespace pai
