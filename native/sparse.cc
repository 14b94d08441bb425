// Sparse (CSR) convolution and linear kernels: direct sparse convolution, where every stored weight
// (oc, ic, ky, kx) adds value * the shifted input plane ic into output plane oc. Work is
// nnz * n * oh * ow multiply-adds, so the time falls with the kept fraction, unlike a dense GEMM.
//
// Layout: activations are moved, once per call, into a batch-innermost layout [c][H][W][n] (each
// pixel a vector of the n images), zero-bordered for the padding. A stored weight then touches
// whole pixel vectors, so the batch loop disappears from the per-entry work and the inner loops are
// long and contiguous whatever the plane size (4x4 planes of 512 channels included). For stride 1
// it goes further: with the output computed at the padded row stride Wp, one tap's contribution
// to an output plane is ONE contiguous multiply-add of length ((oh - 1) * Wp + ow) * n at the
// offset (ky * dh * Wp + kx * dw) * n. The columns past ow of each output row are scratch, dropped
// on the way out (and zero where they feed a sum). Strided convolutions go pixel by pixel, each a
// multiply-add over the batch.
//
// Compiled twice (see sparse.h): everything here is file-local except table(), and it uses no C++
// library templates, which the linker could merge across the two builds.
#ifndef PAI_SPARSE_NS
#define PAI_SPARSE_NS sparse_base
#define PAI_SPARSE_ISA "sse2"
#endif

#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include <new>

#include "sparse.h"

namespace pai {
namespace PAI_SPARSE_NS {
namespace {

// Scratch memory owned for the duration of one kernel call (allocated outside parallel regions,
// where an exception could not propagate).
struct Scratch {
  void* p;
  explicit Scratch(size_t bytes) : p(malloc(bytes > 0 ? bytes : 1)) {
    if (!p) throw std::bad_alloc();
  }
  ~Scratch() { free(p); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  float* f() const { return static_cast<float*>(p); }
  double* d() const { return static_cast<double*>(p); }
  int32_t* i() const { return static_cast<int32_t*>(p); }
  int64_t* l() const { return static_cast<int64_t*>(p); }
  unsigned char* u() const { return static_cast<unsigned char*>(p); }
};

// Spans are cut into blocks of this many floats (16 KiB), each finished over all of a row's (or a
// column's) entries before the next, so the accumulator block stays in L1 while inputs stream.
constexpr int64_t kBlock = 4096;

inline void axpy(float* __restrict y, const float* __restrict x, float a, int64_t len) {
  for (int64_t i = 0; i < len; ++i) y[i] += a * x[i];
}

inline float dot(const float* __restrict a, const float* __restrict b, int64_t len) {
  float s = 0.f;
#pragma omp simd reduction(+ : s)
  for (int64_t i = 0; i < len; ++i) s += a[i] * b[i];
  return s;
}

struct Geo {
  int64_t Hp, Wp, inPlane;  // padded input plane, in pixels
  int64_t outRow;           // output row stride in pixels: Wp on the one-span path, else ow
  int64_t outPlane;         // output plane in pixels (oh * outRow)
  int64_t L;                // pixels in one output plane's span ((oh - 1) * outRow + ow)
  bool contiguous;          // stride 1 in both axes: the one-span path
};

Geo geoOf(const SparseConv& p) {
  Geo g;
  g.Hp = p.h + 2 * p.ph;
  g.Wp = p.w + 2 * p.pw;
  g.inPlane = g.Hp * g.Wp;
  g.contiguous = p.sh == 1 && p.sw == 1;
  g.outRow = g.contiguous ? g.Wp : p.ow;
  g.outPlane = p.oh * g.outRow;
  g.L = (p.oh - 1) * g.outRow + p.ow;
  return g;
}

// NCHW [n, C, H, W] -> [C][rows x rowStride][n], the image placed at (top, left) and the rest of
// each plane zero; only the channels with want[ch] set (the others are never read).
void toBatchInner(const float* src, float* dst, int64_t n, int64_t C, int64_t H, int64_t W, int64_t rows,
                  int64_t rowStride, int64_t top, int64_t left, const unsigned char* want) {
  const int64_t plane = rows * rowStride;
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t ch = 0; ch < C; ++ch) {
    if (!want[ch]) continue;
    float* d = dst + ch * plane * n;
    memset(d, 0, sizeof(float) * plane * n);
    for (int64_t r = 0; r < H; ++r) {
      float* dr = d + ((r + top) * rowStride + left) * n;
      for (int64_t b = 0; b < n; ++b) {
        const float* sr = src + ((b * C + ch) * H + r) * W;
        for (int64_t col = 0; col < W; ++col) dr[col * n + b] = sr[col];
      }
    }
  }
}

// [C][rows x rowStride][n] -> NCHW [n, C, H, W], reading the H x W block at (top, left).
void fromBatchInner(const float* src, float* dst, int64_t n, int64_t C, int64_t H, int64_t W, int64_t rowStride,
                    int64_t top, int64_t left, int64_t srcPlane) {
#pragma omp parallel for schedule(static)
  for (int64_t ch = 0; ch < C; ++ch) {
    const float* s = src + ch * srcPlane * n;
    for (int64_t r = 0; r < H; ++r) {
      const float* sr = s + ((r + top) * rowStride + left) * n;
      for (int64_t b = 0; b < n; ++b) {
        float* dr = dst + ((b * C + ch) * H + r) * W;
        for (int64_t col = 0; col < W; ++col) dr[col] = sr[col * n + b];
      }
    }
  }
}

struct Tap { int64_t ic, ky, kx; };
inline Tap decode(int32_t col, const SparseConv& p) {
  const int64_t taps = p.kh * p.kw;
  Tap t;
  t.ic = col / taps;
  const int64_t r = col - t.ic * taps;
  t.ky = r / p.kw;
  t.kx = r - t.ky * p.kw;
  return t;
}

// want[ic] = 1 for the input channels that some entry reads.
void usedChannels(const int32_t* colIdx, int64_t nnz, const SparseConv& p, unsigned char* want) {
  memset(want, 0, (size_t)p.c);
  for (int64_t k = 0; k < nnz; ++k) want[colIdx[k] / (p.kh * p.kw)] = 1;
}
// want[o] = 1 for the output channels with a non-empty row.
void nonEmptyRows(const int32_t* rowPtr, int64_t rows, unsigned char* want) {
  for (int64_t o = 0; o < rows; ++o) want[o] = rowPtr[o + 1] > rowPtr[o];
}

// The pattern by column group (input channel, or input feature): for group q, slots
// colPtr[q] .. colPtr[q + 1] - 1 of ent (entry index) and entRow (its row). Counting sort, O(nnz).
void buildCsc(const int32_t* rowPtr, const int32_t* colIdx, int64_t rows, int64_t groups, int64_t perGroup,
              int64_t* colPtr, int32_t* ent, int32_t* entRow) {
  for (int64_t q = 0; q <= groups; ++q) colPtr[q] = 0;
  const int64_t nnz = rowPtr[rows];
  for (int64_t k = 0; k < nnz; ++k) colPtr[colIdx[k] / perGroup + 1]++;
  for (int64_t q = 0; q < groups; ++q) colPtr[q + 1] += colPtr[q];
  Scratch fill(sizeof(int64_t) * (groups > 0 ? groups : 1));
  int64_t* next = fill.l();
  for (int64_t q = 0; q < groups; ++q) next[q] = colPtr[q];
  for (int64_t r = 0; r < rows; ++r) {
    for (int32_t k = rowPtr[r]; k < rowPtr[r + 1]; ++k) {
      const int64_t s = next[colIdx[k] / perGroup]++;
      ent[s] = k;
      entRow[s] = (int32_t)r;
    }
  }
}

// The input pixel offset of output pixel (oy, ox) = 0 for a tap, in the padded input plane.
inline int64_t tapOffset(const Tap& t, const SparseConv& p, const Geo& g) {
  return t.ky * p.dh * g.Wp + t.kx * p.dw;
}

void convForwardBatchInner(const float* x, const float* v, const int32_t* rowPtr, const int32_t* colIdx, const float* bias,
                 float* y, const SparseConv* pp) {
  const SparseConv p = *pp;
  const Geo g = geoOf(p);
  const int64_t n = p.n;
  Scratch want((size_t)p.c);
  usedChannels(colIdx, rowPtr[p.oc], p, want.u());
  Scratch xs(sizeof(float) * p.c * g.inPlane * n), ys(sizeof(float) * p.oc * g.outPlane * n);
  toBatchInner(x, xs.f(), n, p.c, p.h, p.w, g.Hp, g.Wp, p.ph, p.pw, want.u());
  const float* xt = xs.f();
  float* yt = ys.f();

#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t o = 0; o < p.oc; ++o) {
    float* acc = yt + o * g.outPlane * n;
    const float bv = bias ? bias[o] : 0.f;
    for (int64_t i = 0; i < g.outPlane * n; ++i) acc[i] = bv;
    if (g.contiguous) {
      const int64_t span = g.L * n;
      for (int64_t b0 = 0; b0 < span; b0 += kBlock) {
        const int64_t len = span - b0 < kBlock ? span - b0 : kBlock;
        for (int32_t k = rowPtr[o]; k < rowPtr[o + 1]; ++k) {
          const Tap t = decode(colIdx[k], p);
          axpy(acc + b0, xt + (t.ic * g.inPlane + tapOffset(t, p, g)) * n + b0, v[k], len);
        }
      }
      continue;
    }
    for (int32_t k = rowPtr[o]; k < rowPtr[o + 1]; ++k) {
      const Tap t = decode(colIdx[k], p);
      const float* xp = xt + (t.ic * g.inPlane + tapOffset(t, p, g)) * n;
      for (int64_t oy = 0; oy < p.oh; ++oy)
        for (int64_t ox = 0; ox < p.ow; ++ox)
          axpy(acc + (oy * p.ow + ox) * n, xp + (oy * p.sh * g.Wp + ox * p.sw) * n, v[k], n);
    }
  }
  fromBatchInner(yt, y, n, p.oc, p.oh, p.ow, g.outRow, 0, 0, g.outPlane);
}

void convBackwardDataBatchInner(const float* gy, const float* v, const int32_t* rowPtr, const int32_t* colIdx, float* gx,
                      const SparseConv* pp) {
  const SparseConv p = *pp;
  const Geo g = geoOf(p);
  const int64_t n = p.n, nnz = rowPtr[p.oc];
  Scratch colPtrS(sizeof(int64_t) * (p.c + 1)), entS(sizeof(int32_t) * nnz), rowS(sizeof(int32_t) * nnz);
  buildCsc(rowPtr, colIdx, p.oc, p.c, p.kh * p.kw, colPtrS.l(), entS.i(), rowS.i());
  const int64_t* colPtr = colPtrS.l();
  const int32_t* ent = entS.i();
  const int32_t* entRow = rowS.i();
  Scratch want((size_t)p.oc);
  nonEmptyRows(rowPtr, p.oc, want.u());
  // Output gradients at the output row stride; the scratch columns stay zero.
  Scratch gs(sizeof(float) * p.oc * g.outPlane * n), gxs(sizeof(float) * p.c * g.inPlane * n);
  toBatchInner(gy, gs.f(), n, p.oc, p.oh, p.ow, p.oh, g.outRow, 0, 0, want.u());
  const float* gt = gs.f();
  float* gxt = gxs.f();

#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t ic = 0; ic < p.c; ++ic) {
    float* acc = gxt + ic * g.inPlane * n;
    memset(acc, 0, sizeof(float) * g.inPlane * n);
    if (g.contiguous) {
      // Blocks of the input-gradient plane; each entry adds the part of its span that lands there.
      const int64_t span = g.L * n, total = g.inPlane * n;
      for (int64_t b0 = 0; b0 < total; b0 += kBlock) {
        const int64_t b1 = total - b0 < kBlock ? total : b0 + kBlock;
        for (int64_t s = colPtr[ic]; s < colPtr[ic + 1]; ++s) {
          const int32_t k = ent[s];
          const Tap t = decode(colIdx[k], p);
          const int64_t off = tapOffset(t, p, g) * n;  // span covers [off, off + span) of the plane
          const int64_t lo = b0 > off ? b0 : off, hi = b1 < off + span ? b1 : off + span;
          if (lo < hi) axpy(acc + lo, gt + (int64_t)entRow[s] * g.outPlane * n + (lo - off), v[k], hi - lo);
        }
      }
      continue;
    }
    for (int64_t s = colPtr[ic]; s < colPtr[ic + 1]; ++s) {
      const int32_t k = ent[s];
      const Tap t = decode(colIdx[k], p);
      const float* gp = gt + (int64_t)entRow[s] * g.outPlane * n;
      float* base = acc + tapOffset(t, p, g) * n;
      for (int64_t oy = 0; oy < p.oh; ++oy)
        for (int64_t ox = 0; ox < p.ow; ++ox)
          axpy(base + (oy * p.sh * g.Wp + ox * p.sw) * n, gp + (oy * p.ow + ox) * n, v[k], n);
    }
  }
  fromBatchInner(gxt, gx, n, p.c, p.h, p.w, g.Wp, p.ph, p.pw, g.inPlane);
}

void convBackwardWeightBatchInner(const float* x, const float* gy, const int32_t* rowPtr, const int32_t* colIdx, float* gv,
                        const SparseConv* pp) {
  const SparseConv p = *pp;
  const Geo g = geoOf(p);
  const int64_t n = p.n;
  Scratch wantX((size_t)p.c), wantY((size_t)p.oc);
  usedChannels(colIdx, rowPtr[p.oc], p, wantX.u());
  nonEmptyRows(rowPtr, p.oc, wantY.u());
  Scratch xs(sizeof(float) * p.c * g.inPlane * n), gs(sizeof(float) * p.oc * g.outPlane * n);
  toBatchInner(x, xs.f(), n, p.c, p.h, p.w, g.Hp, g.Wp, p.ph, p.pw, wantX.u());
  toBatchInner(gy, gs.f(), n, p.oc, p.oh, p.ow, p.oh, g.outRow, 0, 0, wantY.u());
  const float* xt = xs.f();
  const float* gt = gs.f();
  int64_t maxRow = 1;
  for (int64_t o = 0; o < p.oc; ++o) if (rowPtr[o + 1] - rowPtr[o] > maxRow) maxRow = rowPtr[o + 1] - rowPtr[o];
  Scratch partS(sizeof(double) * omp_get_max_threads() * maxRow);

  // Each entry is one (long) dot product; rows go to threads, so a row's output-gradient plane is
  // shared by its entries, block by block.
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t o = 0; o < p.oc; ++o) {
    const float* gp = gt + o * g.outPlane * n;
    const int32_t k0 = rowPtr[o], k1 = rowPtr[o + 1];
    if (g.contiguous) {
      double* part = partS.d() + (int64_t)omp_get_thread_num() * maxRow;
      for (int32_t k = k0; k < k1; ++k) part[k - k0] = 0;
      const int64_t span = g.L * n;
      for (int64_t b0 = 0; b0 < span; b0 += kBlock) {
        const int64_t len = span - b0 < kBlock ? span - b0 : kBlock;
        for (int32_t k = k0; k < k1; ++k) {
          const Tap t = decode(colIdx[k], p);
          part[k - k0] += dot(gp + b0, xt + (t.ic * g.inPlane + tapOffset(t, p, g)) * n + b0, len);
        }
      }
      for (int32_t k = k0; k < k1; ++k) gv[k] = (float)part[k - k0];
      continue;
    }
    for (int32_t k = k0; k < k1; ++k) {
      const Tap t = decode(colIdx[k], p);
      const float* xp = xt + (t.ic * g.inPlane + tapOffset(t, p, g)) * n;
      double s = 0;
      for (int64_t oy = 0; oy < p.oh; ++oy) {
        float r = 0.f;
        for (int64_t ox = 0; ox < p.ow; ++ox) r += dot(gp + (oy * p.ow + ox) * n, xp + (oy * p.sh * g.Wp + ox * p.sw) * n, n);
        s += r;
      }
      gv[k] = (float)s;
    }
  }
}


// ---------------------------------------------------------------- image-plane path
// For large planes with few entries per row the transposes above would cost more than the
// convolution itself; this path works on the NCHW planes as they are, image by image, with the same
// one-span trick on a zero-bordered copy of the input (row stride Wp) for stride 1.

// x [n, c, h, w] -> xp [n, c, Hp, Wp] with a zero border, for the channels some entry reads.
void padPlanes(const float* x, float* xp, const unsigned char* want, const SparseConv& p, const Geo& g) {
  const int64_t planes = p.n * p.c;
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < planes; ++t) {
    if (!want[t % p.c]) continue;
    float* d = xp + t * g.inPlane;
    const float* s = x + t * p.h * p.w;
    memset(d, 0, sizeof(float) * g.inPlane);
    for (int64_t r = 0; r < p.h; ++r) memcpy(d + (r + p.ph) * g.Wp + p.pw, s + r * p.w, sizeof(float) * p.w);
  }
}

// gy [n, oc, oh, ow] -> [n, oc, oh, Wp], the columns past ow zero (they feed sums); only the
// planes of non-empty rows, the only ones read.
void widenPlanes(const float* gy, float* gw, const int32_t* rowPtr, const SparseConv& p, const Geo& g) {
  const int64_t planes = p.n * p.oc;
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < planes; ++t) {
    const int64_t o = t % p.oc;
    if (rowPtr[o] == rowPtr[o + 1]) continue;
    float* d = gw + t * p.oh * g.Wp;
    const float* s = gy + t * p.oh * p.ow;
    for (int64_t r = 0; r < p.oh; ++r) {
      memcpy(d + r * g.Wp, s + r * p.ow, sizeof(float) * p.ow);
      memset(d + r * g.Wp + p.ow, 0, sizeof(float) * (g.Wp - p.ow));
    }
  }
}

void convForwardPlanes(const float* x, const float* v, const int32_t* rowPtr, const int32_t* colIdx, const float* bias,
                       float* y, const SparseConv& p) {
  const Geo g = geoOf(p);
  const int64_t plane = p.oh * p.ow, tasks = p.n * p.oc;
  Scratch want((size_t)p.c), padX(sizeof(float) * p.n * p.c * g.inPlane);
  usedChannels(colIdx, rowPtr[p.oc], p, want.u());
  padPlanes(x, padX.f(), want.u(), p, g);
  const float* xp = padX.f();
  Scratch bufs(sizeof(float) * omp_get_max_threads() * g.outPlane);

#pragma omp parallel for schedule(dynamic, 4)
  for (int64_t t = 0; t < tasks; ++t) {
    const int64_t b = t / p.oc, o = t - b * p.oc;
    const float bv = bias ? bias[o] : 0.f;
    const float* xb = xp + b * p.c * g.inPlane;
    float* yp = y + t * plane;
    if (rowPtr[o] == rowPtr[o + 1] || !g.contiguous) {
      for (int64_t i = 0; i < plane; ++i) yp[i] = bv;
      for (int32_t k = rowPtr[o]; k < rowPtr[o + 1]; ++k) {  // strided: row by row
        const Tap tp = decode(colIdx[k], p);
        const float wv = v[k];
        const float* xs = xb + tp.ic * g.inPlane + tapOffset(tp, p, g);
        for (int64_t oy = 0; oy < p.oh; ++oy) {
          const float* __restrict xr = xs + oy * p.sh * g.Wp;
          float* __restrict yr = yp + oy * p.ow;
          for (int64_t ox = 0; ox < p.ow; ++ox) yr[ox] += wv * xr[ox * p.sw];
        }
      }
      continue;
    }
    float* acc = bufs.f() + (int64_t)omp_get_thread_num() * g.outPlane;
    for (int64_t i = 0; i < g.L; ++i) acc[i] = bv;
    for (int32_t k = rowPtr[o]; k < rowPtr[o + 1]; ++k) {
      const Tap tp = decode(colIdx[k], p);
      axpy(acc, xb + tp.ic * g.inPlane + tapOffset(tp, p, g), v[k], g.L);
    }
    for (int64_t r = 0; r < p.oh; ++r) memcpy(yp + r * p.ow, acc + r * g.Wp, sizeof(float) * p.ow);
  }
}

void convBackwardDataPlanes(const float* gy, const float* v, const int32_t* rowPtr, const int32_t* colIdx, float* gx,
                            const SparseConv& p) {
  const Geo g = geoOf(p);
  const int64_t nnz = rowPtr[p.oc], tasks = p.n * p.c;
  Scratch colPtrS(sizeof(int64_t) * (p.c + 1)), entS(sizeof(int32_t) * nnz), rowS(sizeof(int32_t) * nnz);
  buildCsc(rowPtr, colIdx, p.oc, p.c, p.kh * p.kw, colPtrS.l(), entS.i(), rowS.i());
  const int64_t* colPtr = colPtrS.l();
  const int32_t* ent = entS.i();
  const int32_t* entRow = rowS.i();
  // The one-span path reads gy at row stride Wp.
  Scratch wideS(g.contiguous ? sizeof(float) * p.n * p.oc * g.outPlane : 0);
  const float* gw = gy;
  if (g.contiguous) { widenPlanes(gy, wideS.f(), rowPtr, p, g); gw = wideS.f(); }
  Scratch bufs(sizeof(float) * omp_get_max_threads() * g.inPlane);

#pragma omp parallel for schedule(dynamic, 2)
  for (int64_t t = 0; t < tasks; ++t) {
    const int64_t b = t / p.c, ic = t - b * p.c;
    if (colPtr[ic] == colPtr[ic + 1]) { memset(gx + t * p.h * p.w, 0, sizeof(float) * p.h * p.w); continue; }
    float* acc = bufs.f() + (int64_t)omp_get_thread_num() * g.inPlane;
    memset(acc, 0, sizeof(float) * g.inPlane);
    for (int64_t s = colPtr[ic]; s < colPtr[ic + 1]; ++s) {
      const int32_t k = ent[s];
      const Tap tp = decode(colIdx[k], p);
      const float wv = v[k];
      const float* gs = gw + (b * p.oc + entRow[s]) * g.outPlane;
      float* base = acc + tapOffset(tp, p, g);
      if (g.contiguous) {
        axpy(base, gs, wv, g.L);
      } else {
        for (int64_t oy = 0; oy < p.oh; ++oy) {
          float* __restrict br = base + oy * p.sh * g.Wp;
          const float* __restrict gr = gs + oy * p.ow;
          for (int64_t ox = 0; ox < p.ow; ++ox) br[ox * p.sw] += wv * gr[ox];
        }
      }
    }
    float* out = gx + t * p.h * p.w;
    for (int64_t r = 0; r < p.h; ++r) memcpy(out + r * p.w, acc + (r + p.ph) * g.Wp + p.pw, sizeof(float) * p.w);
  }
}

void convBackwardWeightPlanes(const float* x, const float* gy, const int32_t* rowPtr, const int32_t* colIdx, float* gv,
                              const SparseConv& p) {
  const Geo g = geoOf(p);
  Scratch want((size_t)p.c), padX(sizeof(float) * p.n * p.c * g.inPlane);
  usedChannels(colIdx, rowPtr[p.oc], p, want.u());
  padPlanes(x, padX.f(), want.u(), p, g);
  const float* xp = padX.f();
  Scratch wideS(g.contiguous ? sizeof(float) * p.n * p.oc * g.outPlane : 0);
  const float* gw = gy;
  if (g.contiguous) { widenPlanes(gy, wideS.f(), rowPtr, p, g); gw = wideS.f(); }
  int64_t maxRow = 1;
  for (int64_t o = 0; o < p.oc; ++o) if (rowPtr[o + 1] - rowPtr[o] > maxRow) maxRow = rowPtr[o + 1] - rowPtr[o];
  Scratch accS(sizeof(double) * omp_get_max_threads() * maxRow);

  // Rows go to threads; within a row the batch is the outer loop, so one output-gradient plane
  // stays in L1 across the row's entries.
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t o = 0; o < p.oc; ++o) {
    const int32_t k0 = rowPtr[o], k1 = rowPtr[o + 1];
    if (k0 == k1) continue;
    double* acc = accS.d() + (int64_t)omp_get_thread_num() * maxRow;
    for (int32_t k = k0; k < k1; ++k) acc[k - k0] = 0;
    for (int64_t b = 0; b < p.n; ++b) {
      const float* gs = gw + (b * p.oc + o) * g.outPlane;
      const float* xb = xp + b * p.c * g.inPlane;
      for (int32_t k = k0; k < k1; ++k) {
        const Tap tp = decode(colIdx[k], p);
        const float* xs = xb + tp.ic * g.inPlane + tapOffset(tp, p, g);
        float s = 0.f;
        if (g.contiguous) {
          s = dot(gs, xs, g.L);
        } else {
          for (int64_t oy = 0; oy < p.oh; ++oy) {
            const float* xr = xs + oy * p.sh * g.Wp;
            const float* gr = gs + oy * p.ow;
            float r = 0.f;
#pragma omp simd reduction(+ : r)
            for (int64_t ox = 0; ox < p.ow; ++ox) r += gr[ox] * xr[ox * p.sw];
            s += r;
          }
        }
        acc[k - k0] += s;
      }
    }
    for (int32_t k = k0; k < k1; ++k) gv[k] = (float)acc[k - k0];
  }
}

// Which path: the image-plane one costs a fixed overhead per (entry, image) on top of span / 8
// vector operations; the batch-inner one pays two transposes of the activations, about 16 / r of
// its work for r entries per row. The batch-inner path wins when the span is short against the
// entries per row (small planes, wide layers).
// PAI_SPARSE_PATH=planes|batch forces one (the tests run both on every case).
bool batchInner(const int32_t* rowPtr, const SparseConv& p) {
  const char* force = getenv("PAI_SPARSE_PATH");
  if (force && strcmp(force, "planes") == 0) return false;
  if (force && strcmp(force, "batch") == 0) return true;
  const Geo g = geoOf(p);
  const double perRow = (double)rowPtr[p.oc] / (double)(p.oc > 0 ? p.oc : 1);
  return (double)g.L < 16.0 * perRow;
}

void convForward(const float* x, const float* v, const int32_t* rowPtr, const int32_t* colIdx, const float* bias,
                 float* y, const SparseConv* p) {
  if (batchInner(rowPtr, *p)) convForwardBatchInner(x, v, rowPtr, colIdx, bias, y, p);
  else convForwardPlanes(x, v, rowPtr, colIdx, bias, y, *p);
}

void convBackwardData(const float* gy, const float* v, const int32_t* rowPtr, const int32_t* colIdx, float* gx,
                      const SparseConv* p) {
  if (batchInner(rowPtr, *p)) convBackwardDataBatchInner(gy, v, rowPtr, colIdx, gx, p);
  else convBackwardDataPlanes(gy, v, rowPtr, colIdx, gx, *p);
}

void convBackwardWeight(const float* x, const float* gy, const int32_t* rowPtr, const int32_t* colIdx, float* gv,
                        const SparseConv* p) {
  if (batchInner(rowPtr, *p)) convBackwardWeightBatchInner(x, gy, rowPtr, colIdx, gv, p);
  else convBackwardWeightPlanes(x, gy, rowPtr, colIdx, gv, *p);
}

// [rows, cols] -> [cols, rows].
void transpose(const float* a, float* t, int64_t rows, int64_t cols) {
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < cols; ++c)
    for (int64_t r = 0; r < rows; ++r) t[c * rows + r] = a[r * cols + c];
}

// The linear kernels work on transposed activations ([features, n]), so each stored weight is one
// contiguous multiply-add or dot product over the batch.
void linearForward(const float* x, const float* v, const int32_t* rowPtr, const int32_t* colIdx, const float* bias,
                   float* y, int64_t n, int64_t inF, int64_t outF) {
  Scratch xtS(sizeof(float) * n * inF);
  transpose(x, xtS.f(), n, inF);
  const float* xt = xtS.f();
  const int threads = omp_get_max_threads();
  Scratch bufs(sizeof(float) * threads * n);
#pragma omp parallel for schedule(dynamic, 4)
  for (int64_t o = 0; o < outF; ++o) {
    float* acc = bufs.f() + (int64_t)omp_get_thread_num() * n;
    const float bv = bias ? bias[o] : 0.f;
    for (int64_t b = 0; b < n; ++b) acc[b] = bv;
    for (int32_t k = rowPtr[o]; k < rowPtr[o + 1]; ++k) axpy(acc, xt + (int64_t)colIdx[k] * n, v[k], n);
    for (int64_t b = 0; b < n; ++b) y[b * outF + o] = acc[b];
  }
}

void linearBackwardData(const float* gy, const float* v, const int32_t* rowPtr, const int32_t* colIdx, float* gx,
                        int64_t n, int64_t inF, int64_t outF) {
  const int64_t nnz = rowPtr[outF];
  Scratch colPtrS(sizeof(int64_t) * (inF + 1)), entS(sizeof(int32_t) * nnz), rowS(sizeof(int32_t) * nnz);
  buildCsc(rowPtr, colIdx, outF, inF, 1, colPtrS.l(), entS.i(), rowS.i());
  const int64_t* colPtr = colPtrS.l();
  const int32_t* ent = entS.i();
  const int32_t* entRow = rowS.i();
  Scratch gtS(sizeof(float) * n * outF);
  transpose(gy, gtS.f(), n, outF);
  const float* gt = gtS.f();
  const int threads = omp_get_max_threads();
  Scratch bufs(sizeof(float) * threads * n);
#pragma omp parallel for schedule(dynamic, 4)
  for (int64_t i = 0; i < inF; ++i) {
    float* acc = bufs.f() + (int64_t)omp_get_thread_num() * n;
    for (int64_t b = 0; b < n; ++b) acc[b] = 0.f;
    for (int64_t s = colPtr[i]; s < colPtr[i + 1]; ++s) axpy(acc, gt + (int64_t)entRow[s] * n, v[ent[s]], n);
    for (int64_t b = 0; b < n; ++b) gx[b * inF + i] = acc[b];
  }
}

void linearBackwardWeight(const float* x, const float* gy, const int32_t* rowPtr, const int32_t* colIdx, float* gv,
                          int64_t n, int64_t inF, int64_t outF) {
  Scratch xtS(sizeof(float) * n * inF), gtS(sizeof(float) * n * outF);
  transpose(x, xtS.f(), n, inF);
  transpose(gy, gtS.f(), n, outF);
  const float* xt = xtS.f();
  const float* gt = gtS.f();
#pragma omp parallel for schedule(dynamic, 4)
  for (int64_t o = 0; o < outF; ++o)
    for (int32_t k = rowPtr[o]; k < rowPtr[o + 1]; ++k) gv[k] = dot(gt + o * n, xt + (int64_t)colIdx[k] * n, n);
}

const SparseTable kTable = {
  PAI_SPARSE_ISA, convForward, convBackwardData, convBackwardWeight, linearForward, linearBackwardData,
  linearBackwardWeight,
};

}  // namespace

const SparseTable* table() { return &kTable; }

}  // namespace PAI_SPARSE_NS
}  // namespace pai
