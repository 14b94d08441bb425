// Baseline x86-64 (SSE2) build of the loop kernels, the fallback for CPUs without AVX2/FMA.
#define PAI_EW_NS ew_base
#define PAI_EW_ISA "sse2"
#include "ew_impl.h"
