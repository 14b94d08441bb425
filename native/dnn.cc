// oneDNN glue. Creating a primitive (implementation dispatch, JIT code generation) costs far more
// than running a small one, so every primitive and the reorders around it are cached, keyed by the
// full shape, the kind of pass and the thread count (an OpenMP-runtime primitive is planned for the
// number of threads it was created with).
#include "dnn.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include <map>
#include <memory>
#include <mutex>
#include <oneapi/dnnl/dnnl.hpp>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

namespace pai {
namespace {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

dnnl::engine& eng() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}
dnnl::stream& strm() {
  static dnnl::stream s(eng());
  return s;
}

typedef std::vector<int64_t> Key;

// A cap keeps a long run with ever-changing shapes (e.g. a last partial batch per epoch is fine,
// random crops of varying size would not be) from growing without bound.
template <class T>
struct Cache {
  std::map<Key, std::unique_ptr<T>> map;
  T* find(const Key& k) {
    auto it = map.find(k);
    return it == map.end() ? nullptr : it->second.get();
  }
  T* put(const Key& k, std::unique_ptr<T> v) {
    if (map.size() >= 256) map.clear();
    T* raw = v.get();
    map[k] = std::move(v);
    return raw;
  }
};

// Scratch for blocked-layout copies of operands; grows, never shrinks, one per role so the three
// operands of one call never share.
struct Arena {
  void* p = nullptr;
  size_t size = 0;
  void* get(size_t bytes) {
    if (bytes > size) {
      free(p);
      p = nullptr;
      if (posix_memalign(&p, 64, bytes) != 0) { p = nullptr; size = 0; throw std::bad_alloc(); }
      size = bytes;
    }
    return p;
  }
};
Arena arenas[3];

// The caches and arenas are process-wide; Node worker threads that load the addon share them.
std::mutex dnnMutex;

// ---------------------------------------------------------------- matmul

struct MatmulEntry {
  dnnl::matmul prim;
  memory::desc a, b, c;
};
Cache<MatmulEntry> matmulCache;

std::unique_ptr<MatmulEntry> makeMatmul(int64_t ba, int64_t bb, int64_t bc, const MatmulArgs& p) {
  const int64_t m = p.m, k = p.k, n = p.n;
  const int64_t sa = ba == 1 ? m * k : p.aBatchStride, sb = bb == 1 ? k * n : p.bBatchStride;
  memory::desc a({ba, m, k}, dt::f32, p.transA ? memory::dims{sa, 1, m} : memory::dims{sa, k, 1});
  memory::desc b({bb, k, n}, dt::f32, p.transB ? memory::dims{sb, 1, k} : memory::dims{sb, n, 1});
  memory::desc c({bc, m, n}, dt::f32, memory::dims{m * n, n, 1});
  dnnl::primitive_attr attr;
  if (p.accumulate) {
    dnnl::post_ops po;
    po.append_sum(1.f);
    attr.set_post_ops(po);
  }
  dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a, b, c), attr, eng());
  auto e = std::make_unique<MatmulEntry>();
  e->prim = dnnl::matmul(pd);
  e->a = a; e->b = b; e->c = c;
  return e;
}

void runMatmul(MatmulEntry* e, const float* a, const float* b, float* c) {
  memory ma(e->a, eng(), const_cast<float*>(a));
  memory mb(e->b, eng(), const_cast<float*>(b));
  memory mc(e->c, eng(), c);
  e->prim.execute(strm(), {{DNNL_ARG_SRC, ma}, {DNNL_ARG_WEIGHTS, mb}, {DNNL_ARG_DST, mc}});
  strm().wait();
}

}  // namespace

void dnnMatmul(const float* a, const float* b, float* out, const MatmulArgs& p) {
  std::lock_guard<std::mutex> lock(dnnMutex);
  if (p.batch == 0 || p.m == 0 || p.n == 0) return;
  if (p.k == 0) {
    if (!p.accumulate) memset(out, 0, sizeof(float) * p.batch * p.m * p.n);
    return;
  }
  const int64_t nthr = omp_get_max_threads();
  const int64_t ba = (p.aBatchStride == 0 || p.batch == 1) ? 1 : p.batch;
  const int64_t bb = (p.bBatchStride == 0 || p.batch == 1) ? 1 : p.batch;
  // One batched primitive when oneDNN can express the batching (a broadcast operand is a batch
  // dim of 1); shapes it rejects are remembered as a null entry and run one 2-d product per item.
  if (!(ba == 1 && bb == 1 && p.batch > 1)) {
    Key k{0, p.batch, p.m, p.k, p.n, p.transA, p.transB, ba == 1 ? 0 : p.aBatchStride,
          bb == 1 ? 0 : p.bBatchStride, p.accumulate, nthr};
    MatmulEntry* e = matmulCache.find(k);
    if (!e && !matmulCache.map.count(k)) {
      try {
        e = matmulCache.put(k, makeMatmul(ba, bb, p.batch, p));
      } catch (const dnnl::error&) {
        matmulCache.put(k, nullptr);
      }
    }
    if (e) return runMatmul(e, a, b, out);
  }
  Key k{1, p.m, p.k, p.n, p.transA, p.transB, p.accumulate, nthr};
  MatmulEntry* e = matmulCache.find(k);
  if (!e) {
    MatmulArgs q = p;
    q.batch = 1;
    e = matmulCache.put(k, makeMatmul(1, 1, 1, q));
  }
  for (int64_t i = 0; i < p.batch; ++i)
    runMatmul(e, a + i * p.aBatchStride, b + i * p.bBatchStride, out + i * p.m * p.n);
}

namespace {

// ---------------------------------------------------------------- convolution

enum ConvPass { FWD, BWD_DATA, BWD_WEIGHTS };

// How activations are laid out for oneDNN's convolutions (PAI_DNNL_CONV_LAYOUT):
// - "auto" (default): blocked layouts of oneDNN's choice (paying reorders), except NHWC for layers
//   with fewer than 16 output channels, see smallChannelNhwc;
// - "blocked": oneDNN's choice everywhere;
// - "plain": NCHW/OIHW everywhere, no reorders.
// Blocked is much faster for its direct JIT kernels; see the measurements in the report.
enum class ConvLayout { AUTO, BLOCKED, PLAIN };
ConvLayout convLayout() {
  static const ConvLayout v = [] {
    const char* s = getenv("PAI_DNNL_CONV_LAYOUT");
    if (s && strcmp(s, "plain") == 0) return ConvLayout::PLAIN;
    if (s && strcmp(s, "blocked") == 0) return ConvLayout::BLOCKED;
    return ConvLayout::AUTO;
  }();
  return v;
}
bool blockedLayouts() { return convLayout() != ConvLayout::PLAIN; }

// oneDNN's blocked layouts pad the channel dimension to the vector width (16 floats on AVX-512, 8
// on AVX2), so a layer with 4 or 8 output channels computes 2-4x the useful work and reorders
// padded tensors. NHWC holds no padding. On the study's ResNet-20 at width 1/4 (4, 8 and 16
// channels) it cut a Fashion-MNIST epoch at one thread from 43.8 to 35.9 s with the same
// accuracy; layers with 16 or more output channels (the first convolution of VGG-19 or of the
// full-width ResNet-20, whose input has 3 channels) measured equal or slower, so they keep the
// blocked layouts. Strided 1x1 convolutions (the downsampling shortcuts) stay blocked too: oneDNN
// 2.6's NHWC weight gradient for them corrupts the heap (a 4->8 channel 1x1 stride-2 layer on 28x28
// input at batch 1 or 3, on AVX2 and AVX-512 alike; test/kernels/native.test.ts runs that shape).
bool smallChannelNhwc(const ConvArgs& p) {
  const bool strided1x1 = p.kh == 1 && p.kw == 1 && (p.sh > 1 || p.sw > 1);
  return convLayout() == ConvLayout::AUTO && p.groups == 1 && p.oc < 16 && !strided1x1;
}

// One operand of a primitive: the user's plain layout, the primitive's, and the reorder between.
struct Operand {
  memory::desc user, prim;
  bool reorder = false;
  dnnl::reorder r;
  void init(const memory::desc& u, const memory::desc& p, bool toPrim) {
    user = u; prim = p;
    reorder = !(u == p);
    if (reorder) {
      r = toPrim ? dnnl::reorder(dnnl::reorder::primitive_desc(eng(), u, eng(), p))
                 : dnnl::reorder(dnnl::reorder::primitive_desc(eng(), p, eng(), u));
    }
  }
  // For an input: returns memory in the primitive's layout, converting the user's data if needed.
  memory in(const float* data, int slot) {
    memory mu(user, eng(), const_cast<float*>(data));
    if (!reorder) return mu;
    memory mp(prim, eng(), arenas[slot].get(prim.get_size()));
    r.execute(strm(), mu, mp);
    return mp;
  }
  memory outMem(float* data, int slot) {
    if (!reorder) return memory(user, eng(), data);
    return memory(prim, eng(), arenas[slot].get(prim.get_size()));
  }
  void finish(memory& m, float* data) {
    if (!reorder) return;
    memory mu(user, eng(), data);
    r.execute(strm(), m, mu);
  }
};

struct ConvEntry {
  dnnl::primitive prim;
  Operand src, wei, dst;  // for the backward passes: src/diff_src, weights/diff_weights, diff_dst
  memory::desc bias;
  bool hasBias = false;
};
Cache<ConvEntry> convCache;

// The weight gradient of a layer with a tiny output plane (the 4x4 and smaller stages of CIFAR
// ResNet-18 and VGG at 512 channels) reduces over only n * oh * ow positions per weight; oneDNN's
// blocked direct kernel parallelises that poorly, and the GEMM-based plain-layout one measured
// ~1.7x faster for 512->512 at 4x4 (equal at 2x2 and at 256->512 at 4x4) on AVX2.
bool blockedFor(ConvPass pass, const ConvArgs& p) {
  if (!blockedLayouts()) return false;
  if (pass == BWD_WEIGHTS && p.groups == 1 && p.oh * p.ow <= 16 && p.c >= 256) return false;
  return true;
}

std::unique_ptr<ConvEntry> makeConv(ConvPass pass, const ConvArgs& p, bool hasBias) {
  const int64_t g = p.groups;
  const memory::dims sd{p.n, p.c, p.h, p.w}, dd{p.n, p.oc, p.oh, p.ow};
  const memory::dims wd = g > 1 ? memory::dims{g, p.oc / g, p.c / g, p.kh, p.kw} : memory::dims{p.oc, p.c, p.kh, p.kw};
  const memory::desc uSrc(sd, dt::f32, tag::nchw), uDst(dd, dt::f32, tag::nchw);
  const memory::desc uWei(wd, dt::f32, g > 1 ? tag::goihw : tag::oihw);
  const memory::desc uBias({p.oc}, dt::f32, tag::x);
  const bool any = blockedFor(pass, p);
  const tag act = smallChannelNhwc(p) ? tag::nhwc : tag::any;
  const memory::desc aSrc = any ? memory::desc(sd, dt::f32, act) : uSrc;
  const memory::desc aDst = any ? memory::desc(dd, dt::f32, act) : uDst;
  const memory::desc aWei = any ? memory::desc(wd, dt::f32, tag::any) : uWei;
  const memory::dims strides{p.sh, p.sw}, dil{p.dh - 1, p.dw - 1}, pad{p.ph, p.pw};
  // Right padding equal to the left one reproduces PyTorch's floor formula for the output size.
  const auto alg = dnnl::algorithm::convolution_direct;
  auto fwdDesc = hasBias
      ? dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, alg, aSrc, aWei, uBias, aDst, strides, dil, pad, pad)
      : dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, alg, aSrc, aWei, aDst, strides, dil, pad, pad);
  dnnl::convolution_forward::primitive_desc fwd(fwdDesc, eng());
  auto e = std::make_unique<ConvEntry>();
  if (pass == FWD) {
    e->prim = dnnl::convolution_forward(fwd);
    e->src.init(uSrc, fwd.src_desc(), true);
    e->wei.init(uWei, fwd.weights_desc(), true);
    e->dst.init(uDst, fwd.dst_desc(), false);
    e->bias = uBias;
    e->hasBias = hasBias;
  } else if (pass == BWD_DATA) {
    dnnl::convolution_backward_data::primitive_desc pd(
        dnnl::convolution_backward_data::desc(alg, aSrc, aWei, aDst, strides, dil, pad, pad), eng(), fwd);
    e->prim = dnnl::convolution_backward_data(pd);
    e->src.init(uSrc, pd.diff_src_desc(), false);
    e->wei.init(uWei, pd.weights_desc(), true);
    e->dst.init(uDst, pd.diff_dst_desc(), true);
  } else {
    dnnl::convolution_backward_weights::primitive_desc pd(
        dnnl::convolution_backward_weights::desc(alg, aSrc, aWei, aDst, strides, dil, pad, pad), eng(), fwd);
    e->prim = dnnl::convolution_backward_weights(pd);
    e->src.init(uSrc, pd.src_desc(), true);
    e->wei.init(uWei, pd.diff_weights_desc(), false);
    e->dst.init(uDst, pd.diff_dst_desc(), true);
  }
  return e;
}

ConvEntry* getConv(ConvPass pass, const ConvArgs& p, bool hasBias) {
  Key k{pass, p.n, p.c, p.h, p.w, p.oc, p.kh, p.kw, p.oh, p.ow, p.sh, p.sw, p.ph, p.pw, p.dh, p.dw,
        p.groups, hasBias, omp_get_max_threads(), blockedFor(pass, p)};
  ConvEntry* e = convCache.find(k);
  if (!e) e = convCache.put(k, makeConv(pass, p, hasBias));
  return e;
}

}  // namespace

void dnnConvForward(const float* x, const float* w, const float* bias, float* y, const ConvArgs& p) {
  std::lock_guard<std::mutex> lock(dnnMutex);
  ConvEntry* e = getConv(FWD, p, bias != nullptr);
  memory ms = e->src.in(x, 0), mw = e->wei.in(w, 1), md = e->dst.outMem(y, 2);
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, ms}, {DNNL_ARG_WEIGHTS, mw}, {DNNL_ARG_DST, md}};
  if (bias) args[DNNL_ARG_BIAS] = memory(e->bias, eng(), const_cast<float*>(bias));
  e->prim.execute(strm(), args);
  e->dst.finish(md, y);
  strm().wait();
}

void dnnConvBackwardData(const float* gy, const float* w, float* gx, const ConvArgs& p) {
  std::lock_guard<std::mutex> lock(dnnMutex);
  ConvEntry* e = getConv(BWD_DATA, p, false);
  memory md = e->dst.in(gy, 0), mw = e->wei.in(w, 1), ms = e->src.outMem(gx, 2);
  e->prim.execute(strm(), {{DNNL_ARG_DIFF_DST, md}, {DNNL_ARG_WEIGHTS, mw}, {DNNL_ARG_DIFF_SRC, ms}});
  e->src.finish(ms, gx);
  strm().wait();
}

void dnnConvBackwardWeight(const float* x, const float* gy, float* gw, const ConvArgs& p) {
  std::lock_guard<std::mutex> lock(dnnMutex);
  ConvEntry* e = getConv(BWD_WEIGHTS, p, false);
  memory ms = e->src.in(x, 0), md = e->dst.in(gy, 1), mw = e->wei.outMem(gw, 2);
  e->prim.execute(strm(), {{DNNL_ARG_SRC, ms}, {DNNL_ARG_DIFF_DST, md}, {DNNL_ARG_DIFF_WEIGHTS, mw}});
  e->wei.finish(mw, gw);
  strm().wait();
}

void dnnClearCache() {
  std::lock_guard<std::mutex> lock(dnnMutex);
  matmulCache.map.clear();
  convCache.map.clear();
}

const char* dnnVersion() {
  static std::string s = [] {
    const dnnl_version_t* v = dnnl_version();
    return std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch);
  }();
  return s.c_str();
}

}  // namespace pai
