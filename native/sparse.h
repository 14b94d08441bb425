// Sparse (CSR) convolution and linear kernels, see src/kernels/interface.ts (CsrPattern). Like the
// loop kernels (ew.h) they are compiled twice, baseline x86-64 (sparse.cc) and AVX2+FMA
// (sparse_avx2.cc), behind a table of plain function pointers picked from CPUID at load time; only
// POD types cross it. The addon checks every size and index before calling in.
#pragma once
#include <cstdint>

namespace pai {

struct SparseConv {
  int64_t n, c, h, w, oc, kh, kw, oh, ow, sh, sw, ph, pw, dh, dw;
};

struct SparseTable {
  const char* isa;
  // Convolution (groups = 1): pattern rows = oc, columns = (ic * kh + ky) * kw + kx.
  void (*convForward)(const float* x, const float* v, const int32_t* rowPtr, const int32_t* colIdx,
                      const float* bias, float* y, const SparseConv* p);
  void (*convBackwardData)(const float* gy, const float* v, const int32_t* rowPtr, const int32_t* colIdx,
                           float* gx, const SparseConv* p);
  void (*convBackwardWeight)(const float* x, const float* gy, const int32_t* rowPtr, const int32_t* colIdx,
                             float* gv, const SparseConv* p);
  // Linear: y [n, outF] = x [n, inF] Wᵀ; pattern rows = outF, columns = inF.
  void (*linearForward)(const float* x, const float* v, const int32_t* rowPtr, const int32_t* colIdx,
                        const float* bias, float* y, int64_t n, int64_t inF, int64_t outF);
  void (*linearBackwardData)(const float* gy, const float* v, const int32_t* rowPtr, const int32_t* colIdx,
                             float* gx, int64_t n, int64_t inF, int64_t outF);
  void (*linearBackwardWeight)(const float* x, const float* gy, const int32_t* rowPtr, const int32_t* colIdx,
                               float* gv, int64_t n, int64_t inF, int64_t outF);
};

namespace sparse_base { const SparseTable* table(); }
namespace sparse_avx2 { const SparseTable* table(); }
namespace sparse_avx512 { const SparseTable* table(); }

}  // namespace pai
