# The native backend. Built by `npm ci` through scripts/build-native.mjs.
#
# ISA: the loop kernels (native/ew_impl.h) are compiled twice, baseline x86-64 in the addon itself
# and AVX2+FMA in the pai_ew_avx2 static library below; addon.cc picks one from CPUID at load time.
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
      "target_name": "pai_native",
      "sources": ["native/addon.cc", "native/dnn.cc", "native/ew_base.cc", "native/persample.cc", "native/rng.cc", "native/sparse.cc"],
      "dependencies": ["pai_ew_avx2"],
      "cflags": ["<@(pai_cflags)"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-fexceptions"],
      "libraries": ["-ldnnl", "-fopenmp"],
      "ldflags": ["-fopenmp"],
    },
  ],
}
