// AVX2+FMA build of the loop kernels; binding.gyp compiles this file alone with -mavx2 -mfma, and
// the addon only calls into it after CPUID confirms both (see addon.cc).
#define PAI_EW_NS ew_avx2
#define PAI_EW_ISA "avx2+fma"
#include "ew_impl.h"
