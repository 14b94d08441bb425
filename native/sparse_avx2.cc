// AVX2+FMA build of the sparse kernels; binding.gyp compiles it with -mavx2 -mfma into the same
// static library as ew_avx2.cc, and the addon only uses it after CPUID confirms both.
#define PAI_SPARSE_NS sparse_avx2
#define PAI_SPARSE_ISA "avx2+fma"
#include "sparse.cc"
