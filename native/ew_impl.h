// Loop kernels, compiled once per ISA (see ew.h). Included by ew_base.cc and ew_avx2.cc with
// PAI_EW_NS set; everything here has internal linkage except table().
//
// Rules for this file: no C++ standard-library templates or inline functions (they would become
// COMDAT symbols shared between the two builds), only C math functions, which are external calls.
#include <math.h>
#include <string.h>
#include <omp.h>
#include "ew.h"
#include <immintrin.h>

namespace pai {
namespace PAI_EW_NS {
namespace {

// Below this many elements a parallel region costs more than it saves.
constexpr int64_t kParGrain = 1 << 15;

inline int64_t imin(int64_t a, int64_t b) { return a < b ? a : b; }
inline int64_t imax(int64_t a, int64_t b) { return a > b ? a : b; }

// Splits [0, n) evenly over the team; called inside a parallel region.
inline void thread_range(int64_t n, int64_t* lo, int64_t* hi) {
  int nt = omp_get_num_threads(), t = omp_get_thread_num();
  int64_t q = n / nt, r = n % nt;
  *lo = t * q + imin(t, r);
  *hi = *lo + q + (t < r ? 1 : 0);
}

// ---------------------------------------------------------------- unary / affine / pow

// exp, sigmoid and tanh are the hot transcendental activations. libm's versions are scalar calls
// (tanhf costs ~20 ns), so they get branch-free float formulas here that the compiler vectorises;
// all are within 2 ulp of the correctly rounded value (tested against the reference backend).
// Exponent bits for 2^n, written through a union so the compiler sees plain integer lanes.
inline float pow2i(int32_t n) {
  union { int32_t i; float f; } u;
  u.i = (n + 127) << 23;
  return u.f;
}

// e^x: x = n ln2 + r with |r| <= ln2/2 (ln2 split in two so n ln2 is exact), a degree-6
// polynomial for e^r (Cephes' expf coefficients), then scaling by 2^n in two halves so that every
// factor stays a normal float from the subnormal range up to FLT_MAX. NaN passes through.
inline float vexp(float x) {
  const float hi = 88.72283935546875f, lo = -104.f;  // ln(FLT_MAX); below lo e^x rounds to 0
  const float xc = x > hi ? hi : (x < lo ? lo : x);
  // Round to nearest by the 1.5 * 2^23 trick: exact for |v| < 2^22 and vectorisable everywhere.
  const float fn = (xc * 1.44269504089f + 12582912.f) - 12582912.f;
  float r = xc - fn * 0.693359375f;
  r = r - fn * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.f;
  const int32_t n = (int32_t)fn, n1 = n >> 1;
  float y = p * pow2i(n1) * pow2i(n - n1);
  y = x > hi ? INFINITY : (x < lo ? 0.f : y);
  return x != x ? x : y;
}

// tanh: an odd polynomial near 0 (Cephes' tanhf), where 1 - 2 / (e^2|x| + 1) would cancel, and
// that formula elsewhere; both are computed and one selected so the loop stays branch-free.
inline float vtanh(float x) {
  const float a = fabsf(x);
  const float z = x * x;
  float p = -5.70498872745e-3f;
  p = p * z + 2.06390887954e-2f;
  p = p * z - 5.37397155531e-2f;
  p = p * z + 1.33314422036e-1f;
  p = p * z - 3.33332819422e-1f;
  const float small = p * z * x + x;
  float big = 1.f - 2.f / (vexp(2.f * a) + 1.f);
  big = x < 0.f ? -big : big;
  return a < 0.625f ? small : (x != x ? x : big);
}

// sigmoid with exp of -|x| only, so nothing overflows and tiny results keep their precision.
inline float vsigmoid(float x) {
  const float e = vexp(-fabsf(x));
  const float d = 1.f / (1.f + e);
  return x >= 0.f ? d : (x != x ? x : e * d);
}

template <class F>
inline void map1(const float* x, float* out, int64_t n, F f) {
#pragma omp parallel for simd schedule(static) if (n >= kParGrain)
  for (int64_t i = 0; i < n; ++i) out[i] = f(x[i]);
}

void unary(int op, const float* x, float* out, int64_t n) {
  switch (op) {
    case U_NEG: map1(x, out, n, [](float v) { return -v; }); break;
    case U_EXP: map1(x, out, n, [](float v) { return vexp(v); }); break;
    case U_LOG: map1(x, out, n, [](float v) { return logf(v); }); break;
    case U_SQRT: map1(x, out, n, [](float v) { return sqrtf(v); }); break;
    case U_RSQRT: map1(x, out, n, [](float v) { return (float)(1.0 / sqrt((double)v)); }); break;
    case U_ABS: map1(x, out, n, [](float v) { return fabsf(v); }); break;
    // PyTorch's (0 < x) - (x < 0): NaN and -0 give +0.
    case U_SIGN: map1(x, out, n, [](float v) { return v > 0.f ? 1.f : (v < 0.f ? -1.f : 0.f); }); break;
    // NaN stays NaN and -0 becomes +0, as in the reference backend.
    case U_RELU: map1(x, out, n, [](float v) { return v > 0.f ? v : (v == v ? 0.f : v); }); break;
    case U_STEP: map1(x, out, n, [](float v) { return v > 0.f ? 1.f : 0.f; }); break;
    case U_TANH: map1(x, out, n, [](float v) { return vtanh(v); }); break;
    case U_SIGMOID: map1(x, out, n, [](float v) { return vsigmoid(v); }); break;
    // Double-precision erf rounded once: the float result is then the correctly rounded erf.
    case U_ERF: map1(x, out, n, [](float v) { return (float)erf((double)v); }); break;
    case U_SQUARE: map1(x, out, n, [](float v) { return v * v; }); break;
    case U_RECIPROCAL: map1(x, out, n, [](float v) { return 1.f / v; }); break;
  }
}

void affine(const float* x, float scale, float shift, float* out, int64_t n) {
  map1(x, out, n, [scale, shift](float v) { return v * scale + shift; });
}

void powScalar(const float* x, float p, float* out, int64_t n) {
  if (p == 2.f) return map1(x, out, n, [](float v) { return v * v; });
  if (p == 1.f) return map1(x, out, n, [](float v) { return v; });
  if (p == 0.5f) return map1(x, out, n, [](float v) { return sqrtf(v); });
  if (p == -1.f) return map1(x, out, n, [](float v) { return 1.f / v; });
  if (p == -0.5f) return map1(x, out, n, [](float v) { return (float)(1.0 / sqrt((double)v)); });
  if (p == -2.f) return map1(x, out, n, [](float v) { return 1.f / (v * v); });
  if (p == 3.f) return map1(x, out, n, [](float v) { return v * v * v; });
  double pd = p;
  map1(x, out, n, [pd](float v) { return (float)pow((double)v, pd); });
}

// ---------------------------------------------------------------- broadcasting binary / where

// Walks the rows (all dims but the last) of a plan; calls row(offsets..., len) per row. Rows are
// split between threads, each thread seeding its odometer once.
template <int K, class Row>
void for_rows(const BcastPlan* p, Row row) {
  const int nd = p->ndim;
  const int64_t len = p->dims[nd - 1];
  int64_t rows = 1;
  for (int d = 0; d < nd - 1; ++d) rows *= p->dims[d];
  const int64_t total = rows * len;
#pragma omp parallel if (total >= kParGrain && rows > 1)
  {
    int64_t lo, hi;
    thread_range(rows, &lo, &hi);
    if (lo < hi) {
      int64_t idx[kMaxDims];
      int64_t off[K];
      for (int k = 0; k < K; ++k) off[k] = 0;
      int64_t rem = lo;
      for (int d = nd - 2; d >= 0; --d) {
        idx[d] = rem % p->dims[d];
        rem /= p->dims[d];
        for (int k = 0; k < K; ++k) off[k] += idx[d] * p->strides[k][d];
      }
      for (int64_t r = lo; r < hi; ++r) {
        row(off, len);
        for (int d = nd - 2; d >= 0; --d) {
          for (int k = 0; k < K; ++k) off[k] += p->strides[k][d];
          if (++idx[d] < p->dims[d]) break;
          for (int k = 0; k < K; ++k) off[k] -= p->strides[k][d] * p->dims[d];
          idx[d] = 0;
        }
      }
    }
  }
}

// Inner strides after coalescing are 1 (a full operand) or 0 (a broadcast scalar along the row),
// so three specialised loops cover every case and each vectorises.
template <class F>
void binary_t(const float* a, const float* b, float* out, const BcastPlan* p, F f) {
  const int nd = p->ndim;
  const int64_t sa = p->strides[0][nd - 1], sb = p->strides[1][nd - 1];
  for_rows<3>(p, [&](const int64_t* off, int64_t len) {
    const float* pa = a + off[0];
    const float* pb = b + off[1];
    float* po = out + off[2];
    if (sa && sb) {
      for (int64_t i = 0; i < len; ++i) po[i] = f(pa[i], pb[i]);
    } else if (sa) {
      const float vb = pb[0];
      for (int64_t i = 0; i < len; ++i) po[i] = f(pa[i], vb);
    } else if (sb) {
      const float va = pa[0];
      for (int64_t i = 0; i < len; ++i) po[i] = f(va, pb[i]);
    } else {
      const float v = f(pa[0], pb[0]);
      for (int64_t i = 0; i < len; ++i) po[i] = v;
    }
  });
}

void binary(int op, const float* a, const float* b, float* out, const BcastPlan* p) {
  switch (op) {
    case B_ADD: binary_t(a, b, out, p, [](float x, float y) { return x + y; }); break;
    case B_SUB: binary_t(a, b, out, p, [](float x, float y) { return x - y; }); break;
    case B_MUL: binary_t(a, b, out, p, [](float x, float y) { return x * y; }); break;
    case B_DIV: binary_t(a, b, out, p, [](float x, float y) { return x / y; }); break;
    case B_POW: binary_t(a, b, out, p, [](float x, float y) { return (float)pow((double)x, (double)y); }); break;
    // NaN propagates, as in torch.maximum / torch.minimum.
    case B_MAXIMUM:
      binary_t(a, b, out, p, [](float x, float y) { return (x > y || x != x) ? x : y; });
      break;
    case B_MINIMUM:
      binary_t(a, b, out, p, [](float x, float y) { return (x < y || x != x) ? x : y; });
      break;
    case B_GT: binary_t(a, b, out, p, [](float x, float y) { return x > y ? 1.f : 0.f; }); break;
    case B_GE: binary_t(a, b, out, p, [](float x, float y) { return x >= y ? 1.f : 0.f; }); break;
    case B_LT: binary_t(a, b, out, p, [](float x, float y) { return x < y ? 1.f : 0.f; }); break;
    case B_LE: binary_t(a, b, out, p, [](float x, float y) { return x <= y ? 1.f : 0.f; }); break;
    case B_EQ: binary_t(a, b, out, p, [](float x, float y) { return x == y ? 1.f : 0.f; }); break;
    case B_NE: binary_t(a, b, out, p, [](float x, float y) { return x != y ? 1.f : 0.f; }); break;
  }
}

void where(const float* c, const float* a, const float* b, float* out, const BcastPlan* p) {
  const int nd = p->ndim;
  const int64_t sc = p->strides[0][nd - 1], sa = p->strides[1][nd - 1], sb = p->strides[2][nd - 1];
  for_rows<4>(p, [&](const int64_t* off, int64_t len) {
    const float* pc = c + off[0];
    const float* pa = a + off[1];
    const float* pb = b + off[2];
    float* po = out + off[3];
    if (sc && sa && sb) {
      for (int64_t i = 0; i < len; ++i) po[i] = pc[i] != 0.f ? pa[i] : pb[i];
    } else if (sc && sa && !sb) {
      const float vb = pb[0];
      for (int64_t i = 0; i < len; ++i) po[i] = pc[i] != 0.f ? pa[i] : vb;
    } else if (sc && !sa && sb) {
      const float va = pa[0];
      for (int64_t i = 0; i < len; ++i) po[i] = pc[i] != 0.f ? va : pb[i];
    } else {
      for (int64_t i = 0; i < len; ++i) po[i] = pc[i * sc] != 0.f ? pa[i * sa] : pb[i * sb];
    }
  });
}

// ---------------------------------------------------------------- reductions

// Sums accumulate in double: the reference backend does, and a float accumulator over a 64x32x32
// batch-norm reduction would drift visibly.
struct SumAcc {
  typedef double T;
  static T init() { return 0.0; }
  static T comb(T a, T b) { return a + b; }
  static T row(const float* x, int64_t n) {
    double s = 0.0;
#pragma omp simd reduction(+ : s)
    for (int64_t i = 0; i < n; ++i) s += x[i];
    return s;
  }
  static void acc(T* a, const float* x, int64_t n) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) a[i] += x[i];
  }
};
// NaN wins, as in torch.max / torch.min.
struct MaxAcc {
  typedef float T;
  static T init() { return -INFINITY; }
  static T comb(T a, T b) { return (a != a || a > b) ? a : (b != b ? b : (a > b ? a : b)); }
  static T row(const float* x, int64_t n) {
    float m = -INFINITY;
    bool nan = false;
    for (int64_t i = 0; i < n; ++i) { m = x[i] > m ? x[i] : m; nan |= x[i] != x[i]; }
    return nan ? NAN : m;
  }
  static void acc(T* a, const float* x, int64_t n) {
    for (int64_t i = 0; i < n; ++i) a[i] = (x[i] > a[i] || x[i] != x[i]) ? x[i] : a[i];
  }
};
struct MinAcc {
  typedef float T;
  static T init() { return INFINITY; }
  static T comb(T a, T b) { return (a != a || a < b) ? a : (b != b ? b : (a < b ? a : b)); }
  static T row(const float* x, int64_t n) {
    float m = INFINITY;
    bool nan = false;
    for (int64_t i = 0; i < n; ++i) { m = x[i] < m ? x[i] : m; nan |= x[i] != x[i]; }
    return nan ? NAN : m;
  }
  static void acc(T* a, const float* x, int64_t n) {
    for (int64_t i = 0; i < n; ++i) a[i] = (x[i] < a[i] || x[i] != x[i]) ? x[i] : a[i];
  }
};

struct DimList {
  int n = 0;
  int64_t size[kMaxDims];
  int64_t stride[kMaxDims];
  int64_t count() const { int64_t c = 1; for (int i = 0; i < n; ++i) c *= size[i]; return c; }
  int64_t offset(int64_t lin) const {  // row-major linear index -> element offset
    int64_t off = 0;
    for (int i = n - 1; i >= 0; --i) { off += (lin % size[i]) * stride[i]; lin /= size[i]; }
    return off;
  }
};

template <class A>
void reduce_t(const float* x, int ndim, const int64_t* dims, const int* isRed, float* out, int64_t outSize) {
  typedef typename A::T T;
  int64_t st[kMaxDims];
  int64_t s = 1;
  for (int d = ndim - 1; d >= 0; --d) { st[d] = s; s *= dims[d]; }
  DimList kept, red;
  for (int d = 0; d < ndim; ++d) {
    DimList& L = isRed[d] ? red : kept;
    L.size[L.n] = dims[d]; L.stride[L.n] = st[d]; L.n++;
  }
  const int64_t redCount = red.count();
  if (redCount == 0 || outSize == 0) {
    for (int64_t i = 0; i < outSize; ++i) out[i] = (float)A::init();
    return;
  }
  const int64_t total = redCount * outSize;
  if (isRed[ndim - 1]) {
    // The innermost input dim is reduced: each output is a set of contiguous runs.
    const int64_t len = red.size[red.n - 1];
    DimList outer = red; outer.n--;
    const int64_t runs = outer.count();
    const int nt = omp_get_max_threads();
    if (outSize >= 4 * nt || total < kParGrain) {
#pragma omp parallel for schedule(static) if (total >= kParGrain)
      for (int64_t o = 0; o < outSize; ++o) {
        const float* base = x + kept.offset(o);
        T acc = A::init();
        for (int64_t r = 0; r < runs; ++r) acc = A::comb(acc, A::row(base + outer.offset(r), len));
        out[o] = (float)acc;
      }
    } else {
      // Few outputs (a full reduction): split each output's runs, or one long run, across threads.
      for (int64_t o = 0; o < outSize; ++o) {
        const float* base = x + kept.offset(o);
        T parts[256];
        int used = 1;
#pragma omp parallel
        {
          int t = omp_get_thread_num();
#pragma omp single
          used = omp_get_num_threads() < 256 ? omp_get_num_threads() : 256;
          T acc = A::init();
          if (t < used) {
            if (runs >= used) {
              int64_t lo, hi;
              thread_range(runs, &lo, &hi);
              for (int64_t r = lo; r < hi; ++r) acc = A::comb(acc, A::row(base + outer.offset(r), len));
            } else {
              int64_t lo, hi;
              thread_range(len, &lo, &hi);
              for (int64_t r = 0; r < runs; ++r)
                if (hi > lo) acc = A::comb(acc, A::row(base + outer.offset(r) + lo, hi - lo));
            }
            parts[t] = acc;
          }
        }
        T acc = A::init();
        for (int t = 0; t < used; ++t) acc = A::comb(acc, parts[t]);
        out[o] = (float)acc;
      }
    }
  } else {
    // The innermost dim is kept: accumulate whole rows into a chunk of outputs at a time.
    const int64_t len = kept.size[kept.n - 1];
    DimList outer = kept; outer.n--;
    const int64_t outerCount = outer.count();
    constexpr int64_t CH = 512;
    const int64_t chunks = (len + CH - 1) / CH;
#pragma omp parallel for schedule(static) if (total >= kParGrain)
    for (int64_t job = 0; job < outerCount * chunks; ++job) {
      const int64_t o = job / chunks, c0 = (job % chunks) * CH, cn = imin(CH, len - c0);
      const float* base = x + outer.offset(o) + c0;
      T acc[CH];
      for (int64_t i = 0; i < cn; ++i) acc[i] = A::init();
      for (int64_t r = 0; r < redCount; ++r) A::acc(acc, base + red.offset(r), cn);
      float* po = out + o * len + c0;
      for (int64_t i = 0; i < cn; ++i) po[i] = (float)acc[i];
    }
  }
}

void reduce(int op, const float* x, int ndim, const int64_t* dims, const int* isRed, float* out, int64_t outSize) {
  if (op == R_SUM) reduce_t<SumAcc>(x, ndim, dims, isRed, out, outSize);
  else if (op == R_MAX) reduce_t<MaxAcc>(x, ndim, dims, isRed, out, outSize);
  else reduce_t<MinAcc>(x, ndim, dims, isRed, out, outSize);
}

// ---------------------------------------------------------------- copies, gather, scatter

// A transpose-like copy (the destination's inner dim reads the source with a large stride, and some
// other dim reads it contiguously) goes through 32x32 tiles so both sides stay in cache.
void copyTiled(const float* src, float* dst, int nd, const int64_t* dims, const int64_t* ss, const int64_t* ds, int b) {
  constexpr int64_t T = 32;
  const int a = nd - 1;
  const int64_t na = dims[a], nb = dims[b], tilesA = (na + T - 1) / T, tilesB = (nb + T - 1) / T;
  int64_t outer = 1;
  for (int d = 0; d < nd; ++d) if (d != a && d != b) outer *= dims[d];
  const int64_t jobs = outer * tilesA * tilesB;
  const int64_t sa = ss[a], sb = ss[b], da = ds[a], db = ds[b];
#pragma omp parallel for schedule(static) if (outer * na * nb >= kParGrain)
  for (int64_t job = 0; job < jobs; ++job) {
    int64_t rem = job / (tilesA * tilesB);
    const int64_t tb = (job / tilesA) % tilesB, ta = job % tilesA;
    int64_t so = 0, dO = 0;
    for (int d = nd - 1; d >= 0; --d) {
      if (d == a || d == b) continue;
      const int64_t i = rem % dims[d];
      rem /= dims[d];
      so += i * ss[d];
      dO += i * ds[d];
    }
    const int64_t a0 = ta * T, a1 = imin(na, a0 + T), b0 = tb * T, b1 = imin(nb, b0 + T);
    for (int64_t j = b0; j < b1; ++j) {
      const float* ps = src + so + j * sb;
      float* pd = dst + dO + j * db;
      for (int64_t i = a0; i < a1; ++i) pd[i * da] = ps[i * sa];
    }
  }
}

void copyStrided(const float* src, float* dst, int nd, const int64_t* dims, const int64_t* ss, const int64_t* ds) {
  const int64_t s = ss[nd - 1], t = ds[nd - 1];
  if (nd >= 2 && s != 1 && s != 0 && dims[nd - 1] >= 16) {
    for (int b = nd - 2; b >= 0; --b) {
      if (ss[b] == 1 && dims[b] >= 16) return copyTiled(src, dst, nd, dims, ss, ds, b);
    }
  }
  BcastPlan p = {};
  p.ndim = nd; p.nops = 2;
  for (int d = 0; d < nd; ++d) { p.dims[d] = dims[d]; p.strides[0][d] = ss[d]; p.strides[1][d] = ds[d]; }
  for_rows<2>(&p, [&](const int64_t* off, int64_t len) {
    const float* ps = src + off[0];
    float* pd = dst + off[1];
    if (s == 1 && t == 1) memcpy(pd, ps, (size_t)len * sizeof(float));
    else if (t == 1 && s == 0) { const float v = ps[0]; for (int64_t i = 0; i < len; ++i) pd[i] = v; }
    else if (t == 1) { for (int64_t i = 0; i < len; ++i) pd[i] = ps[i * s]; }
    else { for (int64_t i = 0; i < len; ++i) pd[i * t] = ps[i * s]; }
  });
}

int64_t gather(const float* x, int64_t xn, const int32_t* idx, float* out, int64_t n) {
  int64_t bad = -1;
#pragma omp parallel for schedule(static) if (n >= kParGrain) reduction(max : bad)
  for (int64_t i = 0; i < n; ++i) {
    const int64_t j = idx[i];
    if (j >= 0 && j < xn) out[i] = x[j];
    else { out[i] = NAN; bad = imax(bad, i); }
  }
  return bad;
}

// Single-threaded: indices may collide (max-pool windows overlap), and partitioning by target range
// would read the index array once per thread, which on two cores gains nothing.
int64_t scatterAdd(const float* g, const int32_t* idx, float* out, int64_t outN, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const int64_t j = idx[i];
    if (j < 0 || j >= outN) return i;
    out[j] += g[i];
  }
  return -1;
}

// ---------------------------------------------------------------- pooling

void maxPool(const float* x, float* out, int32_t* idx, const Pool* p) {
  const int64_t planes = p->n * p->c, hw = p->h * p->w, ohw = p->oh * p->ow;
#pragma omp parallel for schedule(static) if (planes * ohw * p->kh * p->kw >= kParGrain)
  for (int64_t pl = 0; pl < planes; ++pl) {
    const float* xp = x + pl * hw;
    for (int64_t oy = 0; oy < p->oh; ++oy) {
      const int64_t y0 = oy * p->sh - p->ph;
      for (int64_t ox = 0; ox < p->ow; ++ox) {
        const int64_t x0 = ox * p->sw - p->pw;
        // Strict > keeps the first maximum; the first NaN wins outright. The index starts at the
        // first in-image tap (so an all -inf window points into itself), -1 if there is none.
        float m = -INFINITY;
        int64_t mi = -1;
        bool nan = false;
        for (int64_t ky = 0; ky < p->kh && !nan; ++ky) {
          const int64_t iy = y0 + ky * p->dh;
          if (iy < 0 || iy >= p->h) continue;
          for (int64_t kx = 0; kx < p->kw; ++kx) {
            const int64_t ix = x0 + kx * p->dw;
            if (ix < 0 || ix >= p->w) continue;
            const float v = xp[iy * p->w + ix];
            const int64_t j = iy * p->w + ix;
            // Selects rather than a branch: random data makes `v > m` unpredictable.
            const bool take = v > m || mi < 0;
            m = v > m ? v : m;
            mi = take ? j : mi;
            if (__builtin_expect(v != v, 0)) { m = v; mi = j; nan = true; break; }
          }
        }
        out[pl * ohw + oy * p->ow + ox] = m;
        idx[pl * ohw + oy * p->ow + ox] = (int32_t)(mi < 0 ? -1 : pl * hw + mi);
      }
    }
  }
}

// PyTorch's avg_pool2d: the padded window [start, min(start + k, size + pad)) gives the
// count-include-pad divisor, the window clipped to the input gives the other one.
inline double pool_div(const Pool* p, int64_t oy, int64_t ox, int64_t* ys, int64_t* ye, int64_t* xs, int64_t* xe) {
  int64_t y0 = oy * p->sh - p->ph, x0 = ox * p->sw - p->pw;
  int64_t y1 = imin(y0 + p->kh, p->h + p->ph), x1 = imin(x0 + p->kw, p->w + p->pw);
  const int64_t padded = (y1 - y0) * (x1 - x0);
  y0 = imax(y0, 0); x0 = imax(x0, 0); y1 = imin(y1, p->h); x1 = imin(x1, p->w);
  *ys = y0; *ye = y1; *xs = x0; *xe = x1;
  if (p->divisorOverride > 0) return p->divisorOverride;
  return p->countIncludePad ? (double)padded : (double)((y1 - y0) * (x1 - x0));
}

void avgPool(const float* x, float* out, const Pool* p) {
  const int64_t planes = p->n * p->c, hw = p->h * p->w, ohw = p->oh * p->ow;
#pragma omp parallel for schedule(static) if (planes * ohw * p->kh * p->kw >= kParGrain)
  for (int64_t pl = 0; pl < planes; ++pl) {
    const float* xp = x + pl * hw;
    for (int64_t oy = 0; oy < p->oh; ++oy)
      for (int64_t ox = 0; ox < p->ow; ++ox) {
        int64_t ys, ye, xs, xe;
        const double div = pool_div(p, oy, ox, &ys, &ye, &xs, &xe);
        // A window that misses the image gives 0, as in PyTorch (not 0 / 0).
        if (ys >= ye || xs >= xe) { out[pl * ohw + oy * p->ow + ox] = 0.f; continue; }
        double s = 0.0;
        for (int64_t iy = ys; iy < ye; ++iy)
          for (int64_t ix = xs; ix < xe; ++ix) s += xp[iy * p->w + ix];
        out[pl * ohw + oy * p->ow + ox] = (float)(s / div);
      }
  }
}

void avgPoolBackward(const float* gy, float* gx, const Pool* p) {
  const int64_t planes = p->n * p->c, hw = p->h * p->w, ohw = p->oh * p->ow;
#pragma omp parallel for schedule(static) if (planes * ohw * p->kh * p->kw >= kParGrain)
  for (int64_t pl = 0; pl < planes; ++pl) {
    float* gp = gx + pl * hw;
    for (int64_t i = 0; i < hw; ++i) gp[i] = 0.f;
    for (int64_t oy = 0; oy < p->oh; ++oy)
      for (int64_t ox = 0; ox < p->ow; ++ox) {
        int64_t ys, ye, xs, xe;
        const double div = pool_div(p, oy, ox, &ys, &ye, &xs, &xe);
        if (ys >= ye || xs >= xe) continue;
        const float g = (float)(gy[pl * ohw + oy * p->ow + ox] / div);
        for (int64_t iy = ys; iy < ye; ++iy)
          for (int64_t ix = xs; ix < xe; ++ix) gp[iy * p->w + ix] += g;
      }
  }
}

inline int64_t ad_start(int64_t i, int64_t in, int64_t out) { return (i * in) / out; }
inline int64_t ad_end(int64_t i, int64_t in, int64_t out) { return ((i + 1) * in + out - 1) / out; }

void adaptiveAvgPool(const float* x, float* out, const Pool* p) {
  const int64_t planes = p->n * p->c, hw = p->h * p->w, ohw = p->oh * p->ow;
#pragma omp parallel for schedule(static) if (planes * hw >= kParGrain)
  for (int64_t pl = 0; pl < planes; ++pl) {
    const float* xp = x + pl * hw;
    for (int64_t oy = 0; oy < p->oh; ++oy) {
      const int64_t ys = ad_start(oy, p->h, p->oh), ye = ad_end(oy, p->h, p->oh);
      for (int64_t ox = 0; ox < p->ow; ++ox) {
        const int64_t xs = ad_start(ox, p->w, p->ow), xe = ad_end(ox, p->w, p->ow);
        double s = 0.0;
        for (int64_t iy = ys; iy < ye; ++iy)
          for (int64_t ix = xs; ix < xe; ++ix) s += xp[iy * p->w + ix];
        out[pl * ohw + oy * p->ow + ox] = (float)(s / (double)((ye - ys) * (xe - xs)));
      }
    }
  }
}

void adaptiveAvgPoolBackward(const float* gy, float* gx, const Pool* p) {
  const int64_t planes = p->n * p->c, hw = p->h * p->w, ohw = p->oh * p->ow;
#pragma omp parallel for schedule(static) if (planes * hw >= kParGrain)
  for (int64_t pl = 0; pl < planes; ++pl) {
    float* gp = gx + pl * hw;
    for (int64_t i = 0; i < hw; ++i) gp[i] = 0.f;
    for (int64_t oy = 0; oy < p->oh; ++oy) {
      const int64_t ys = ad_start(oy, p->h, p->oh), ye = ad_end(oy, p->h, p->oh);
      for (int64_t ox = 0; ox < p->ow; ++ox) {
        const int64_t xs = ad_start(ox, p->w, p->ow), xe = ad_end(ox, p->w, p->ow);
        const float g = (float)(gy[pl * ohw + oy * p->ow + ox] / (double)((ye - ys) * (xe - xs)));
        for (int64_t iy = ys; iy < ye; ++iy)
          for (int64_t ix = xs; ix < xe; ++ix) gp[iy * p->w + ix] += g;
      }
    }
  }
}

// ---------------------------------------------------------------- per-channel (normalisation)

// Channels are independent, so they are split between threads; within a channel the n planes of
// `inner` contiguous values are summed in double.
void channelMoments(const float* x, int64_t n, int64_t c, int64_t inner, float* mean, float* var) {
  const double count = (double)(n * inner);
#pragma omp parallel for schedule(static) if (n * c * inner >= kParGrain && c > 1)
  for (int64_t ch = 0; ch < c; ++ch) {
    // Shifted by one of the channel's own values, so the one-pass variance does not cancel.
    const float k = count > 0 ? x[ch * inner] : 0.f;
    double s = 0.0, q = 0.0;
    for (int64_t i = 0; i < n; ++i) {
      const float* p = x + (i * c + ch) * inner;
#pragma omp simd reduction(+ : s, q)
      for (int64_t j = 0; j < inner; ++j) {
        const double d = (double)(p[j] - k);
        s += d;
        q += d * d;
      }
    }
    const double m = s / count;
    double v = q / count - m * m;
    mean[ch] = (float)(m + (double)k);
    var[ch] = (float)(v < 0.0 ? 0.0 : v);
  }
}

void channelAffine(const float* x, const float* m, const float* a, const float* d, float* out,
                   int64_t n, int64_t c, int64_t inner) {
  const int64_t rows = n * c;
#pragma omp parallel for schedule(static) if (rows * inner >= kParGrain && rows > 1)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t ch = r % c;
    const float mc = m ? m[ch] : 0.f, ac = a[ch], dc = d ? d[ch] : 0.f;
    const float* px = x + r * inner;
    float* po = out + r * inner;
#pragma omp simd
    for (int64_t j = 0; j < inner; ++j) po[j] = (px[j] - mc) * ac + dc;
  }
}

void channelGradSums(const float* g, const float* x, const float* m, int64_t n, int64_t c, int64_t inner,
                     float* sg, float* sgx) {
#pragma omp parallel for schedule(static) if (n * c * inner >= kParGrain && c > 1)
  for (int64_t ch = 0; ch < c; ++ch) {
    const float mc = m[ch];
    double s1 = 0.0, s2 = 0.0;
    for (int64_t i = 0; i < n; ++i) {
      const float* pg = g + (i * c + ch) * inner;
      const float* px = x + (i * c + ch) * inner;
#pragma omp simd reduction(+ : s1, s2)
      for (int64_t j = 0; j < inner; ++j) {
        s1 += pg[j];
        s2 += (double)pg[j] * (double)(px[j] - mc);
      }
    }
    sg[ch] = (float)s1;
    sgx[ch] = (float)s2;
  }
}

void channelAffineGrad(const float* g, const float* x, const float* m, const float* a, const float* b,
                       const float* d, float* out, int64_t n, int64_t c, int64_t inner) {
  const int64_t rows = n * c;
#pragma omp parallel for schedule(static) if (rows * inner >= kParGrain && rows > 1)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t ch = r % c;
    const float mc = m[ch], ac = a[ch], bc = b[ch], dc = d[ch];
    const float* pg = g + r * inner;
    const float* px = x + r * inner;
    float* po = out + r * inner;
#pragma omp simd
    for (int64_t j = 0; j < inner; ++j) po[j] = pg[j] * ac + (px[j] - mc) * bc + dc;
  }
}

// ---------------------------------------------------------------- FMA peak

// The machine's arithmetic peak for this build's vectors: independent chains of
// acc = acc * scale + shift, enough of them to cover the FMA latency on every pipe, in every
// thread. Nothing but the multiply-adds runs in the loop, so flops / time is the peak the
// benchmarks compare their kernels with.
#if defined(__AVX512F__)
using Vec = __m512;
constexpr int kLanes = 16, kChains = 16;
inline Vec vset(float v) { return _mm512_set1_ps(v); }
inline Vec vfma(Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); }
inline float vfirst(Vec v) { return _mm512_cvtss_f32(v); }
inline Vec vadd(Vec a, Vec b) { return _mm512_add_ps(a, b); }
#elif defined(__FMA__)
using Vec = __m256;
constexpr int kLanes = 8, kChains = 12;
inline Vec vset(float v) { return _mm256_set1_ps(v); }
inline Vec vfma(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }
inline float vfirst(Vec v) { return _mm256_cvtss_f32(v); }
inline Vec vadd(Vec a, Vec b) { return _mm256_add_ps(a, b); }
#else
// No fused multiply-add: a multiply and an add, two flops in two instructions.
using Vec = __m128;
constexpr int kLanes = 4, kChains = 12;
inline Vec vset(float v) { return _mm_set1_ps(v); }
inline Vec vfma(Vec a, Vec b, Vec c) { return _mm_add_ps(_mm_mul_ps(a, b), c); }
inline float vfirst(Vec v) { return _mm_cvtss_f32(v); }
inline Vec vadd(Vec a, Vec b) { return _mm_add_ps(a, b); }
#endif

void fmaPeak(int64_t iters, float scale, float shift, float* out) {
  int threads = 1;
  float first = 0.f;
#pragma omp parallel
  {
    Vec acc[kChains];
    for (int c = 0; c < kChains; ++c) acc[c] = vset(0.f);
    const Vec a = vset(scale), b = vset(shift);
    for (int64_t i = 0; i < iters; ++i) {
      for (int c = 0; c < kChains; ++c) acc[c] = vfma(acc[c], a, b);
    }
    // Every chain feeds the result, so none is dropped as dead code; they all hold the same value.
    Vec sum = acc[0];
    for (int c = 1; c < kChains; ++c) sum = vadd(sum, acc[c]);
#pragma omp master
    {
      threads = omp_get_num_threads();
      first = vfirst(sum) / (float)kChains;
    }
  }
  out[0] = first;
  out[1] = (float)(2 * kLanes * kChains);
  out[2] = (float)threads;
}

const EwTable kTable = {
  PAI_EW_ISA, unary, affine, powScalar, binary, where, reduce, copyStrided, gather, scatterAdd,
  maxPool, avgPool, avgPoolBackward, adaptiveAvgPool, adaptiveAvgPoolBackward,
  channelMoments, channelAffine, channelGradSums, channelAffineGrad, fmaPeak,
};

}  // namespace

const EwTable* table() { return &kTable; }

}  // namespace PAI_EW_NS
}  // namespace pai
