// AVX-512 build of the loop kernels; binding.gyp compiles this file alone with AVX-512 F/BW/DQ/VL
// and 512-bit vectors preferred, and the addon only calls into it after CPUID confirms them (see
// addon.cc). The source is the same as the baseline and AVX2 builds: the compiler vectorises it.
#define PAI_EW_NS ew_avx512
#define PAI_EW_ISA "avx512"
#include "ew_impl.h"
