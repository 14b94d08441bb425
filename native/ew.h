// The loop kernels (everything that is not oneDNN) sit behind a table of plain function pointers so
// that the same source can be compiled twice, once for baseline x86-64 and once for AVX2+FMA, and the
// addon picks one at load time from CPUID. Only POD types cross this boundary on purpose: any inline
// C++ library function instantiated in both builds would be merged by the linker and could leave AVX2
// code on the baseline path.
#pragma once
#include <cstdint>

// The op codes (U_*, B_*, R_*), generated from the op lists of src/kernels/declarations.mjs.
#include "ops.gen.h"

namespace pai {

constexpr int kMaxDims = 16;

// A broadcast operand after shape canonicalisation: strides over the common (coalesced) dims.
struct BcastPlan {
  int ndim;                    // coalesced rank, >= 1
  int64_t dims[kMaxDims];
  int64_t strides[4][kMaxDims];  // operands 0..k-1 inputs, the last the output
  int nops;
};

struct Pool {
  int64_t n, c, h, w, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw;
  int countIncludePad;
  double divisorOverride;
};

struct EwTable {
  const char* isa;
  void (*unary)(int op, const float* x, float* out, int64_t n);
  void (*affine)(const float* x, float scale, float shift, float* out, int64_t n);
  void (*powScalar)(const float* x, float p, float* out, int64_t n);
  void (*binary)(int op, const float* a, const float* b, float* out, const BcastPlan* plan);
  void (*where)(const float* c, const float* a, const float* b, float* out, const BcastPlan* plan);
  // kept/reduced: alternating coalesced dims in input order; isReduced[i] says which.
  void (*reduce)(int op, const float* x, int ndim, const int64_t* dims, const int* isReduced, float* out,
                 int64_t outSize);
  void (*copyStrided)(const float* src, float* dst, int ndim, const int64_t* dims, const int64_t* ss,
                      const int64_t* ds);
  // Returns the first out-of-range position, or -1.
  int64_t (*gather)(const float* x, int64_t xn, const int32_t* idx, float* out, int64_t n);
  int64_t (*scatterAdd)(const float* g, const int32_t* idx, float* out, int64_t outN, int64_t n);
  void (*maxPool)(const float* x, float* out, int32_t* idx, const Pool* p);
  void (*avgPool)(const float* x, float* out, const Pool* p);
  void (*avgPoolBackward)(const float* gy, float* gx, const Pool* p);
  void (*adaptiveAvgPool)(const float* x, float* out, const Pool* p);
  void (*adaptiveAvgPoolBackward)(const float* gy, float* gx, const Pool* p);
  // Per-channel kernels over [n, c, inner] (see src/kernels/interface.ts); m and d may be null.
  void (*channelMoments)(const float* x, int64_t n, int64_t c, int64_t inner, float* mean, float* var);
  void (*channelAffine)(const float* x, const float* m, const float* a, const float* d, float* out,
                        int64_t n, int64_t c, int64_t inner);
  void (*channelGradSums)(const float* g, const float* x, const float* m, int64_t n, int64_t c, int64_t inner,
                          float* sg, float* sgx);
  void (*channelAffineGrad)(const float* g, const float* x, const float* m, const float* a, const float* b,
                            const float* d, float* out, int64_t n, int64_t c, int64_t inner);
  // out[0] = the value of one chain after iters rounds of acc = acc * scale + shift from 0;
  // out[1] = flops per round per thread; out[2] = threads that ran.
  void (*fmaPeak)(int64_t iters, float scale, float shift, float* out);
};

namespace ew_base { const EwTable* table(); }
namespace ew_avx2 { const EwTable* table(); }
namespace ew_avx512 { const EwTable* table(); }

}  // namespace pai
