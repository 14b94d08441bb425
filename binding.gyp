# The native backend. Built by `npm ci` through scripts/build-native.mjs.
#
# ISA: the loop kernels (native/ew_impl.h) and the sparse kernels are compiled three times: baseline
# x86-64 in the addon itself, AVX2+FMA in the pai_ew_avx2 static library and AVX-512 (F, BW, DQ, VL,
# with 512-bit vectors preferred: GCC otherwise keeps 256-bit ones) in pai_ew_avx512; addon.cc picks
# AVX2+FMA where CPUID shows it, AVX-512 only when PAI_NATIVE_ISA=avx512 asks (see addon.cc).
# The binary therefore runs on any x86-64 and is fast on the AVX2+FMA targets, without -march=native
# (which would tie a build to the build machine). oneDNN does its own runtime ISA dispatch.
# -fno-math-errno / -fno-trapping-math change no values; they let GCC if-convert and vectorise
# loops with selects and sqrt (nothing here reads errno or FP exception flags).
{
  "variables": {
    "pai_cflags": ["-O3", "-fopenmp", "-fno-math-errno", "-fno-trapping-math", "-fno-strict-aliasing", "-Wno-unused-function"],
  },
  "targets": [
    {
      "target_name": "pai_ew_avx2",
      "type": "static_library",
      "sources": ["native/ew_avx2.cc", "native/sparse_avx2.cc"],
      "cflags": ["<@(pai_cflags)", "-fPIC", "-mavx2", "-mfma"],
      "cflags_cc!": ["-fno-exceptions"],
    },
    {
      "target_name": "pai_ew_avx512",
      "type": "static_library",
      "sources": ["native/ew_avx512.cc", "native/sparse_avx512.cc"],
      "cflags": ["<@(pai_cflags)", "-fPIC", "-mavx2", "-mfma", "-mavx512f", "-mavx512bw", "-mavx512dq", "-mavx512vl", "-mprefer-vector-width=512"],
      "cflags_cc!": ["-fno-exceptions"],
    },
    {
      "target_name": "pai_native",
      "sources": ["native/addon.cc", "native/dnn.cc", "native/ew_base.cc", "native/persample.cc", "native/rng.cc", "native/sparse.cc"],
      "dependencies": ["pai_ew_avx2", "pai_ew_avx512"],
      "cflags": ["<@(pai_cflags)"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-fexceptions"],
      "libraries": ["-ldnnl", "-fopenmp"],
      "ldflags": ["-fopenmp"],
    },
  ],
}
