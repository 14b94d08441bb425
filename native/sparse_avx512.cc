// AVX-512 build of the sparse kernels; binding.gyp compiles it with the flags of ew_avx512.cc into
// the same static library, and the addon only uses it after CPUID confirms them.
#define PAI_SPARSE_NS sparse_avx512
#define PAI_SPARSE_ISA "avx512"
#include "sparse.cc"
