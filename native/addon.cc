// Node-API entry points: argument checking and unpacking, then a call into the loop kernels (ew_*)
// or oneDNN (dnn.cc). The entry points themselves, the unpacking of their arguments into one record
// per kernel and the table of exported functions are generated from src/kernels/declarations.mjs
// (addon.gen.h, by scripts/gen-kernels.mjs); this file holds the argument readers and each
// kernel's body, k_<name>: the size checks and the call. Written against the plain C Node-API so the addon needs no npm dependency and
// keeps one ABI across Node versions. Every size is checked against the typed arrays' lengths here,
// because a wrong shape from JS would otherwise be an out-of-bounds write in native memory.
#define NAPI_VERSION 8
#include <node_api.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#if defined(__linux__)
#include <sys/mman.h>
#endif

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <utility>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "dnn.h"
#include "ew.h"
#include "sparse.h"
#include "persample.h"
#include "rng.h"

namespace pai {
namespace {

struct JsTypeError : std::runtime_error { using std::runtime_error::runtime_error; };
struct JsRangeError : std::runtime_error { using std::runtime_error::runtime_error; };

const EwTable* ew = nullptr;
const SparseTable* sparse = nullptr;

#define NAPI_OK(call)                                         \
  do {                                                        \
    if ((call) != napi_ok) throw std::runtime_error("Node-API call failed: " #call); \
  } while (0)

void adviseHugePages(void* p, int64_t bytes);

struct Args {
  napi_env env;
  size_t argc = 10;
  napi_value argv[10];
  const char* fn;
  Args(napi_env e, napi_callback_info info, const char* name, size_t want) : env(e), fn(name) {
    NAPI_OK(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
    if (argc < want) throw JsTypeError(std::string(fn) + ": expected " + std::to_string(want) + " arguments");
  }
  std::string where(size_t i) const { return std::string(fn) + ": argument " + std::to_string(i); }

  template <class T>
  T* typed(size_t i, napi_typedarray_type want, int64_t* len, bool nullable = false) {
    napi_valuetype vt;
    NAPI_OK(napi_typeof(env, argv[i], &vt));
    if (nullable && (vt == napi_null || vt == napi_undefined)) { *len = 0; return nullptr; }
    bool is = false;
    NAPI_OK(napi_is_typedarray(env, argv[i], &is));
    if (!is) throw JsTypeError(where(i) + " must be a typed array");
    napi_typedarray_type type;
    size_t length;
    void* data;
    NAPI_OK(napi_get_typedarray_info(env, argv[i], &type, &length, &data, nullptr, nullptr));
    if (type != want)
      throw JsTypeError(where(i) + (want == napi_float32_array   ? " must be a Float32Array (the native backend computes in float32 only)"
                                    : want == napi_int32_array ? " must be an Int32Array"
                                                               : " must be a Uint32Array of 4 words"));
    *len = (int64_t)length;
    return static_cast<T*>(data);
  }
  float* f32(size_t i, int64_t* len, bool nullable = false) { return typed<float>(i, napi_float32_array, len, nullable); }
  // An output: a kernel's writes are usually the first touch of its fresh memory (see
  // adviseHugePages).
  float* f32out(size_t i, int64_t* len, bool nullable = false) {
    float* p = f32(i, len, nullable);
    if (p) adviseHugePages(p, *len * (int64_t)sizeof(float));
    return p;
  }
  int32_t* i32(size_t i, int64_t* len) { return typed<int32_t>(i, napi_int32_array, len); }
  // The xoshiro128** state of rademacherFill: a Uint32Array of exactly 4 words.
  uint32_t* u32x4(size_t i) {
    int64_t len;
    uint32_t* state = typed<uint32_t>(i, napi_uint32_array, &len);
    if (len != 4) throw JsTypeError(where(i) + " must be a Uint32Array of 4 words");
    return state;
  }

  double num(napi_value v, const std::string& what) {
    double d;
    if (napi_get_value_double(env, v, &d) != napi_ok) throw JsTypeError(what + " must be a number");
    return d;
  }
  double num(size_t i) { return num(argv[i], where(i)); }
  int64_t integer(napi_value v, const std::string& what, bool nonneg = true) {
    double d = num(v, what);
    if (!(std::floor(d) == d) || std::fabs(d) > 9007199254740991.0 || (nonneg && d < 0))
      throw JsRangeError(what + (nonneg ? " must be a non-negative integer" : " must be an integer"));
    return (int64_t)d;
  }
  int64_t integer(size_t i, bool nonneg = true) { return integer(argv[i], where(i), nonneg); }
  // An op code below count (the ops of one list of the declaration).
  int code(size_t i, int count) {
    int64_t op = integer(i);
    if (op >= count) throw JsRangeError(std::string(fn) + ": unknown op");
    return (int)op;
  }
  bool boolean(napi_value v) {
    bool b = false;
    napi_valuetype vt;
    NAPI_OK(napi_typeof(env, v, &vt));
    if (vt == napi_boolean) NAPI_OK(napi_get_value_bool(env, v, &b));
    else if (vt == napi_number) b = num(v, "flag") != 0;
    return b;
  }
  std::vector<int64_t> ints(size_t i, bool nonneg = true) {
    bool isArr = false;
    NAPI_OK(napi_is_array(env, argv[i], &isArr));
    if (!isArr) throw JsTypeError(where(i) + " must be an array of integers");
    uint32_t n;
    NAPI_OK(napi_get_array_length(env, argv[i], &n));
    std::vector<int64_t> out(n);
    for (uint32_t j = 0; j < n; ++j) {
      napi_value v;
      NAPI_OK(napi_get_element(env, argv[i], j, &v));
      out[j] = integer(v, where(i) + "[" + std::to_string(j) + "]", nonneg);
    }
    return out;
  }
  int64_t prop(size_t i, const char* name, bool nonneg = true) {
    napi_value v;
    NAPI_OK(napi_get_named_property(env, argv[i], name, &v));
    return integer(v, where(i) + "." + name, nonneg);
  }
  double propNum(size_t i, const char* name) {
    napi_value v;
    NAPI_OK(napi_get_named_property(env, argv[i], name, &v));
    return num(v, where(i) + "." + name);
  }
  bool propBool(size_t i, const char* name) {
    napi_value v;
    NAPI_OK(napi_get_named_property(env, argv[i], name, &v));
    return boolean(v);
  }
};

void need(bool ok, const std::string& msg) {
  if (!ok) throw JsRangeError(msg);
}
int64_t prod(const std::vector<int64_t>& s) {
  int64_t p = 1;
  for (int64_t d : s) p *= d;
  return p;
}

template <class F>
napi_value guard(napi_env env, F f) {
  try {
    return f();
  } catch (const JsTypeError& e) {
    napi_throw_type_error(env, nullptr, e.what());
  } catch (const JsRangeError& e) {
    napi_throw_range_error(env, nullptr, e.what());
  } catch (const std::bad_alloc&) {
    napi_throw_error(env, nullptr, "pai native: out of memory");
  } catch (const std::exception& e) {
    napi_throw_error(env, nullptr, (std::string("pai native: ") + e.what()).c_str());
  }
  return nullptr;
}

napi_value undef(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

// ---------------------------------------------------------------- parameter records

MatmulArgs matmulArgs(Args& a, size_t i) {
  MatmulArgs p;
  p.batch = a.prop(i, "batch"); p.m = a.prop(i, "m"); p.k = a.prop(i, "k"); p.n = a.prop(i, "n");
  p.transA = a.propBool(i, "transA"); p.transB = a.propBool(i, "transB");
  p.aBatchStride = a.prop(i, "aBatchStride"); p.bBatchStride = a.prop(i, "bBatchStride");
  p.accumulate = a.propBool(i, "accumulate");
  return p;
}

ConvArgs convArgs(Args& a, size_t i) {
  ConvArgs p;
  p.n = a.prop(i, "n"); p.c = a.prop(i, "c"); p.h = a.prop(i, "h"); p.w = a.prop(i, "w");
  p.oc = a.prop(i, "oc"); p.kh = a.prop(i, "kh"); p.kw = a.prop(i, "kw");
  p.oh = a.prop(i, "oh"); p.ow = a.prop(i, "ow");
  p.sh = a.prop(i, "strideH"); p.sw = a.prop(i, "strideW");
  p.ph = a.prop(i, "padH"); p.pw = a.prop(i, "padW");
  p.dh = a.prop(i, "dilH"); p.dw = a.prop(i, "dilW");
  p.groups = a.prop(i, "groups");
  need(p.groups >= 1 && p.c % p.groups == 0 && p.oc % p.groups == 0, "conv2d: groups must divide c and oc");
  need(p.sh >= 1 && p.sw >= 1 && p.dh >= 1 && p.dw >= 1, "conv2d: stride and dilation must be >= 1");
  need(p.kh >= 1 && p.kw >= 1, "conv2d: kernel must be at least 1x1");
  need(p.oh == (p.h + 2 * p.ph - p.dh * (p.kh - 1) - 1) / p.sh + 1 &&
       p.ow == (p.w + 2 * p.pw - p.dw * (p.kw - 1) - 1) / p.sw + 1 &&
       p.h + 2 * p.ph >= p.dh * (p.kh - 1) + 1 && p.w + 2 * p.pw >= p.dw * (p.kw - 1) + 1,
       "conv2d: oh/ow do not match the input size, kernel, stride, padding and dilation");
  return p;
}
int64_t xSize(const ConvArgs& p) { return p.n * p.c * p.h * p.w; }
int64_t ySize(const ConvArgs& p) { return p.n * p.oc * p.oh * p.ow; }
int64_t wSize(const ConvArgs& p) { return p.oc * (p.c / p.groups) * p.kh * p.kw; }

SparseConv sparseConvArgs(Args& a, size_t i) {
  ConvArgs c = convArgs(a, i);
  need(c.groups == 1, std::string(a.fn) + ": groups must be 1 (a grouped pruned convolution stays dense)");
  return SparseConv{c.n, c.c, c.h, c.w, c.oc, c.kh, c.kw, c.oh, c.ow, c.sh, c.sw, c.ph, c.pw, c.dh, c.dw};
}

Pool poolArgs(Args& a, size_t i, bool adaptive) {
  Pool p{};
  p.n = a.prop(i, "n"); p.c = a.prop(i, "c"); p.h = a.prop(i, "h"); p.w = a.prop(i, "w");
  p.oh = a.prop(i, "oh"); p.ow = a.prop(i, "ow");
  if (adaptive) {
    need(p.oh > 0 && p.ow > 0, "adaptiveAvgPool2d: output size must be positive");
    p.kh = p.kw = p.sh = p.sw = p.dh = p.dw = 1;
    return p;
  }
  p.kh = a.prop(i, "kh"); p.kw = a.prop(i, "kw");
  p.sh = a.prop(i, "strideH"); p.sw = a.prop(i, "strideW");
  p.ph = a.prop(i, "padH"); p.pw = a.prop(i, "padW");
  // Average pooling has no dilation; accept a 0 there as "unset".
  p.dh = a.prop(i, "dilH"); p.dw = a.prop(i, "dilW");
  if (p.dh == 0) p.dh = 1;
  if (p.dw == 0) p.dw = 1;
  p.countIncludePad = a.propBool(i, "countIncludePad");
  p.divisorOverride = a.propNum(i, "divisorOverride");
  need(p.kh >= 1 && p.kw >= 1 && p.sh >= 1 && p.sw >= 1 && p.dh >= 1 && p.dw >= 1,
       "pool2d: kernel, stride and dilation must be >= 1");
  return p;
}

struct LinDims { int64_t n, inF, outF; };
LinDims linDims(Args& a, size_t i) {
  LinDims d{a.prop(i, "n"), a.prop(i, "inF"), a.prop(i, "outF")};
  need(d.n <= (int64_t)1 << 40 && d.inF < (int64_t)1 << 31 && d.outF < (int64_t)1 << 31, std::string(a.fn) + ": dims too large");
  return d;
}

// The Node-API function of a kernel: Call's constructor checks and unpacks the arguments, then
// Body (k_<name> below) checks the sizes and computes.
template <class Call, void (*Body)(Args&, const Call&)>
napi_value entry(napi_env env, napi_callback_info info) {
  return guard(env, [&] {
    Args a(env, info, Call::kName, Call::kArgc);
    const Call k(a);
    Body(a, k);
    return undef(env);
  });
}

// The generated argument records, body prototypes and the table of exported functions.
#include "addon.gen.h"

// ---------------------------------------------------------------- element-wise

void k_unary(Args&, const UnaryCall& k) {
  need(k.outLen >= k.xLen, "unary: out is shorter than x");
  ew->unary(k.op, k.x, k.out, k.xLen);
}

void k_affine(Args&, const AffineCall& k) {
  need(k.outLen >= k.xLen, "affine: out is shorter than x");
  ew->affine(k.x, (float)k.scale, (float)k.shift, k.out, k.xLen);
}

void k_powScalar(Args&, const PowScalarCall& k) {
  need(k.outLen >= k.xLen, "powScalar: out is shorter than x");
  ew->powScalar(k.x, (float)k.p, k.out, k.xLen);
}

// Builds the coalesced iteration plan for k inputs broadcasting to outShape. Returns false when
// the output is empty.
bool plan(const char* fn, int k, const std::vector<int64_t>* const* shapes, const int64_t* lens,
          const std::vector<int64_t>& outShape, int64_t outLen, BcastPlan* p) {
  const size_t r = outShape.size();
  need(outLen >= prod(outShape), std::string(fn) + ": out is shorter than outShape");
  std::vector<std::vector<int64_t>> st(k + 1, std::vector<int64_t>(r, 0));
  for (int o = 0; o < k; ++o) {
    const auto& s = *shapes[o];
    need(s.size() <= r, std::string(fn) + ": operand has more dims than the output");
    need(lens[o] >= prod(s), std::string(fn) + ": operand buffer is shorter than its shape");
    int64_t acc = 1;
    for (size_t j = 0; j < s.size(); ++j) {
      const size_t d = r - 1 - j;
      const int64_t sd = s[s.size() - 1 - j];
      need(sd == outShape[d] || sd == 1, std::string(fn) + ": shapes do not broadcast to outShape");
      st[o][d] = sd == 1 ? 0 : acc;
      acc *= sd;
    }
  }
  {
    int64_t acc = 1;
    for (size_t j = 0; j < r; ++j) { st[k][r - 1 - j] = acc; acc *= outShape[r - 1 - j]; }
  }
  if (prod(outShape) == 0) return false;
  std::vector<int64_t> dims;
  std::vector<std::vector<int64_t>> cs(k + 1);
  for (size_t d = 0; d < r; ++d) {
    if (outShape[d] == 1) continue;
    bool merge = !dims.empty();
    for (int o = 0; o <= k && merge; ++o) merge = cs[o].back() == st[o][d] * outShape[d];
    if (merge) {
      dims.back() *= outShape[d];
      for (int o = 0; o <= k; ++o) cs[o].back() = st[o][d];
    } else {
      dims.push_back(outShape[d]);
      for (int o = 0; o <= k; ++o) cs[o].push_back(st[o][d]);
    }
  }
  if (dims.empty()) {
    dims.push_back(1);
    for (int o = 0; o <= k; ++o) cs[o].push_back(1);
  }
  need(dims.size() <= (size_t)kMaxDims, std::string(fn) + ": too many dimensions");
  p->ndim = (int)dims.size();
  p->nops = k + 1;
  for (int d = 0; d < p->ndim; ++d) {
    p->dims[d] = dims[d];
    for (int o = 0; o <= k; ++o) p->strides[o][d] = cs[o][d];
  }
  return true;
}

void k_binary(Args&, const BinaryCall& k) {
  const int64_t lens[2] = {k.aLen, k.bLen};
  const std::vector<int64_t>* shapes[2] = {&k.aShape, &k.bShape};
  BcastPlan p;
  if (plan("binary", 2, shapes, lens, k.outShape, k.outLen, &p)) ew->binary(k.op, k.a, k.b, k.out, &p);
}

void k_where(Args&, const WhereCall& k) {
  const int64_t lens[3] = {k.condLen, k.aLen, k.bLen};
  const std::vector<int64_t>* shapes[3] = {&k.condShape, &k.aShape, &k.bShape};
  BcastPlan p;
  if (plan("where", 3, shapes, lens, k.outShape, k.outLen, &p)) ew->where(k.cond, k.a, k.b, k.out, &p);
}

void k_reduce(Args&, const ReduceCall& k) {
  const std::vector<int64_t>& shape = k.shape;
  const std::vector<int64_t>& axes = k.axes;
  std::vector<int> red(shape.size(), 0);
  for (size_t i = 0; i < axes.size(); ++i) {
    need(axes[i] < (int64_t)shape.size(), "reduce: axis out of range");
    need(i == 0 || axes[i] > axes[i - 1], "reduce: axes must be sorted and distinct");
    red[axes[i]] = 1;
  }
  need(k.xLen >= prod(shape), "reduce: x is shorter than shape");
  int64_t outSize = 1, redCount = 1;
  for (size_t d = 0; d < shape.size(); ++d) (red[d] ? redCount : outSize) *= shape[d];
  need(k.outLen >= outSize, "reduce: out is shorter than the kept dims");
  std::vector<int64_t> dims;
  std::vector<int> isRed;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    if (!dims.empty() && isRed.back() == red[d]) dims.back() *= shape[d];
    else { dims.push_back(shape[d]); isRed.push_back(red[d]); }
  }
  bool anyRed = false;
  for (int r : isRed) anyRed |= r != 0;
  if (outSize == 0) return;
  if (!anyRed && redCount != 0) {
    memcpy(k.out, k.x, sizeof(float) * outSize);
    return;
  }
  need(dims.size() <= (size_t)kMaxDims, "reduce: too many dimensions");
  ew->reduce(k.op, k.x, (int)dims.size(), dims.data(), isRed.data(), k.out, outSize);
}

void k_copyStrided(Args&, const CopyStridedCall& k) {
  const std::vector<int64_t>&ss = k.srcStrides, &shape = k.shape, &ds = k.dstStrides;
  const int64_t so = k.srcOffset, dO = k.dstOffset;
  need(ss.size() == shape.size() && ds.size() == shape.size(), "copyStrided: strides and shape differ in rank");
  if (prod(shape) == 0) return;
  int64_t slo = so, shi = so, dlo = dO, dhi = dO;
  for (size_t d = 0; d < shape.size(); ++d) {
    const int64_t e = shape[d] - 1;
    (ss[d] < 0 ? slo : shi) += ss[d] * e;
    (ds[d] < 0 ? dlo : dhi) += ds[d] * e;
  }
  need(slo >= 0 && shi < k.srcLen, "copyStrided: source index out of range");
  need(dlo >= 0 && dhi < k.dstLen, "copyStrided: destination index out of range");
  std::vector<int64_t> dims, cs, cd;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    if (!dims.empty() && cs.back() == ss[d] * shape[d] && cd.back() == ds[d] * shape[d]) {
      dims.back() *= shape[d]; cs.back() = ss[d]; cd.back() = ds[d];
    } else {
      dims.push_back(shape[d]); cs.push_back(ss[d]); cd.push_back(ds[d]);
    }
  }
  if (dims.empty()) { dims.push_back(1); cs.push_back(1); cd.push_back(1); }
  need(dims.size() <= (size_t)kMaxDims, "copyStrided: too many dimensions");
  ew->copyStrided(k.src + so, k.dst + dO, (int)dims.size(), dims.data(), cs.data(), cd.data());
}

void k_gather(Args&, const GatherCall& k) {
  need(k.outLen >= k.idxLen, "gather: out is shorter than idx");
  int64_t bad = ew->gather(k.x, k.xLen, k.idx, k.out, k.idxLen);
  need(bad < 0, "gather: index out of range at position " + std::to_string(bad));
}

void k_scatterAdd(Args&, const ScatterAddCall& k) {
  need(k.gLen >= k.idxLen, "scatterAdd: g is shorter than idx");
  int64_t bad = ew->scatterAdd(k.g, k.idx, k.out, k.outLen, k.idxLen);
  need(bad < 0, "scatterAdd: index out of range at position " + std::to_string(bad));
}

// ---------------------------------------------------------------- oneDNN

void k_matmul(Args&, const MatmulCall& k) {
  const MatmulArgs& p = k.p;
  if (p.batch == 0 || p.m == 0 || p.n == 0) return;
  need(k.outLen >= p.batch * p.m * p.n, "matmul: out is shorter than batch*m*n");
  need(p.k == 0 || k.aLen >= (p.batch - 1) * p.aBatchStride + p.m * p.k, "matmul: a is too short");
  need(p.k == 0 || k.bLen >= (p.batch - 1) * p.bBatchStride + p.k * p.n, "matmul: b is too short");
  dnnMatmul(k.a, k.b, k.out, p);
}

void k_conv2d(Args&, const Conv2dCall& k) {
  const ConvArgs& p = k.p;
  need(k.xLen >= xSize(p) && k.wLen >= wSize(p) && k.outLen >= ySize(p) && (!k.bias || k.biasLen >= p.oc), "conv2d: a buffer is shorter than its shape");
  if (ySize(p) == 0) return;
  if (xSize(p) == 0 || wSize(p) == 0) {  // c == 0: only the bias remains
    for (int64_t i = 0; i < ySize(p); ++i) k.out[i] = k.bias ? k.bias[(i / (p.oh * p.ow)) % p.oc] : 0.f;
    return;
  }
  dnnConvForward(k.x, k.w, k.bias, k.out, p);
}

// A gradient pass into out (n values): nothing when out is empty, zeros when an operand is.
template <class F>
void gradPass(float* out, int64_t n, bool emptyOperand, F pass) {
  if (n == 0) return;
  if (emptyOperand) { memset(out, 0, sizeof(float) * n); return; }
  pass();
}

void k_conv2dBackwardData(Args&, const Conv2dBackwardDataCall& k) {
  const ConvArgs& p = k.p;
  need(k.gxLen >= xSize(p) && k.wLen >= wSize(p) && k.gyLen >= ySize(p), "conv2dBackwardData: a buffer is shorter than its shape");
  gradPass(k.gx, xSize(p), ySize(p) == 0 || wSize(p) == 0, [&] { dnnConvBackwardData(k.gy, k.w, k.gx, p); });
}

void k_conv2dBackwardWeight(Args&, const Conv2dBackwardWeightCall& k) {
  const ConvArgs& p = k.p;
  need(k.xLen >= xSize(p) && k.gwLen >= wSize(p) && k.gyLen >= ySize(p), "conv2dBackwardWeight: a buffer is shorter than its shape");
  gradPass(k.gw, wSize(p), xSize(p) == 0 || ySize(p) == 0, [&] { dnnConvBackwardWeight(k.x, k.gy, k.gw, p); });
}

void k_conv2dWeightGradMoments(Args&, const Conv2dWeightGradMomentsCall& k) {
  const ConvArgs& p = k.p;
  need(k.xLen >= xSize(p) && k.gyLen >= ySize(p) && k.sumSqLen >= wSize(p) && (!k.sum || k.sumLen >= wSize(p)),
       "conv2dWeightGradMoments: a buffer is shorter than its shape");
  if (wSize(p) == 0 || xSize(p) == 0 || ySize(p) == 0) return;
  convWeightGradReduce(k.x, k.gy, k.sum, k.sumSq, nullptr, nullptr, p);
}

void k_conv2dWeightGradProbeDot(Args&, const Conv2dWeightGradProbeDotCall& k) {
  const ConvArgs& p = k.p;
  need(k.xLen >= xSize(p) && k.gyLen >= ySize(p) && k.zLen >= p.n * wSize(p) && k.accLen >= wSize(p),
       "conv2dWeightGradProbeDot: a buffer is shorter than its shape");
  if (wSize(p) == 0 || xSize(p) == 0 || ySize(p) == 0) return;
  convWeightGradReduce(k.x, k.gy, nullptr, nullptr, k.z, k.acc, p);
}

void k_rademacherFill(Args&, const RademacherFillCall& k) {
  rademacherFill(k.state, k.out, k.outLen);
}

// The widest build the CPU runs, or the one an explicit PAI_NATIVE_ISA caps it to: the peak is the
// machine's, or that of the narrower machine the cap emulates (with oneDNN capped alike through
// ONEDNN_MAX_CPU_ISA, a race then measures an AVX2-only CPU's share of its own peak).
const EwTable* widest = nullptr;

void k_fmaPeak(Args&, const FmaPeakCall& k) {
  need(k.outLen >= 3, "fmaPeak: out needs 3 values");
  widest->fmaPeak(k.iters, (float)k.scale, (float)k.shift, k.out);
}

// ---------------------------------------------------------------- pooling

void k_maxPool2d(Args&, const MaxPool2dCall& k) {
  const Pool& p = k.p;
  need(k.xLen >= p.n * p.c * p.h * p.w && k.outLen >= p.n * p.c * p.oh * p.ow && k.idxLen >= p.n * p.c * p.oh * p.ow,
       "maxPool2d: a buffer is shorter than its shape");
  need(p.n * p.c * p.h * p.w <= 2147483647LL, "maxPool2d: input too large for int32 indices");
  ew->maxPool(k.x, k.out, k.idx, &p);
}

// The pooling maps between [h, w] planes (x) and [oh, ow] planes (y).
void needPlanes(const Pool& p, int64_t xLen, int64_t yLen, const char* fn) {
  need(xLen >= p.n * p.c * p.h * p.w && yLen >= p.n * p.c * p.oh * p.ow, std::string(fn) + ": a buffer is shorter than its shape");
}

void k_avgPool2d(Args& a, const AvgPool2dCall& k) { needPlanes(k.p, k.xLen, k.outLen, a.fn); ew->avgPool(k.x, k.out, &k.p); }
void k_avgPool2dBackward(Args& a, const AvgPool2dBackwardCall& k) { needPlanes(k.p, k.gxLen, k.gyLen, a.fn); ew->avgPoolBackward(k.gy, k.gx, &k.p); }
void k_adaptiveAvgPool2d(Args& a, const AdaptiveAvgPool2dCall& k) { needPlanes(k.p, k.xLen, k.outLen, a.fn); ew->adaptiveAvgPool(k.x, k.out, &k.p); }
void k_adaptiveAvgPool2dBackward(Args& a, const AdaptiveAvgPool2dBackwardCall& k) { needPlanes(k.p, k.gxLen, k.gyLen, a.fn); ew->adaptiveAvgPoolBackward(k.gy, k.gx, &k.p); }

// ---------------------------------------------------------------- per-channel (normalisation)

struct ChanDims { int64_t n, c, inner, total; };
ChanDims chanDims(int64_t n, int64_t c, int64_t inner, const char* fn) {
  ChanDims d{n, c, inner, 0};
  need(d.n <= (int64_t)1 << 40 && d.c <= (int64_t)1 << 40 && d.inner <= (int64_t)1 << 40, std::string(fn) + ": dims too large");
  d.total = d.n * d.c * d.inner;
  return d;
}
// Each buffer named must hold `want` values: c for a per-channel vector, n * c * inner for a full
// operand.
void needLens(const char* fn, int64_t want, std::initializer_list<std::pair<int64_t, const char*>> bufs) {
  for (const auto& [len, what] : bufs) need(len >= want, std::string(fn) + ": " + what + " is shorter than its shape");
}

void k_channelMoments(Args& a, const ChannelMomentsCall& k) {
  ChanDims d = chanDims(k.n, k.c, k.inner, a.fn);
  needLens(a.fn, d.total, {{k.xLen, "x"}});
  needLens(a.fn, d.c, {{k.meanLen, "mean"}, {k.varianceLen, "variance"}});
  need(d.c == 0 || d.n * d.inner > 0, "channelMoments: no values per channel");
  ew->channelMoments(k.x, d.n, d.c, d.inner, k.mean, k.variance);
}

void k_channelAffine(Args& a, const ChannelAffineCall& k) {
  ChanDims d = chanDims(k.n, k.c, k.inner, a.fn);
  needLens(a.fn, d.total, {{k.xLen, "x"}, {k.outLen, "out"}});
  needLens(a.fn, d.c, {{k.aLen, "a"}, {k.m ? k.mLen : d.c, "m"}, {k.d ? k.dLen : d.c, "d"}});
  ew->channelAffine(k.x, k.m, k.a, k.d, k.out, d.n, d.c, d.inner);
}

void k_channelGradSums(Args& a, const ChannelGradSumsCall& k) {
  ChanDims d = chanDims(k.n, k.c, k.inner, a.fn);
  needLens(a.fn, d.total, {{k.gLen, "g"}, {k.xLen, "x"}});
  needLens(a.fn, d.c, {{k.mLen, "m"}, {k.sgLen, "sg"}, {k.sgxLen, "sgx"}});
  ew->channelGradSums(k.g, k.x, k.m, d.n, d.c, d.inner, k.sg, k.sgx);
}

void k_channelAffineGrad(Args& a, const ChannelAffineGradCall& k) {
  ChanDims d = chanDims(k.n, k.c, k.inner, a.fn);
  needLens(a.fn, d.total, {{k.gLen, "g"}, {k.xLen, "x"}, {k.outLen, "out"}});
  needLens(a.fn, d.c, {{k.mLen, "m"}, {k.aLen, "a"}, {k.bLen, "b"}, {k.dLen, "d"}});
  ew->channelAffineGrad(k.g, k.x, k.m, k.a, k.b, k.d, k.out, d.n, d.c, d.inner);
}

// ---------------------------------------------------------------- sparse (CSR) layers

// A CSR pattern must be well formed before any kernel indexes with it: rowPtr starts at 0, never
// decreases and ends at nnz = the length of colIdx and of the values; every column lies in range.
void checkCsr(const char* fn, const int32_t* rowPtr, int64_t nRowPtr, const int32_t* colIdx, int64_t nCol,
              int64_t rows, int64_t cols, int64_t nnz) {
  need(nRowPtr == rows + 1, std::string(fn) + ": rowPtr has " + std::to_string(nRowPtr) + " entries, needs rows + 1 = " + std::to_string(rows + 1));
  need(rowPtr[0] == 0, std::string(fn) + ": rowPtr[0] must be 0");
  for (int64_t r = 0; r < rows; ++r) need(rowPtr[r + 1] >= rowPtr[r], std::string(fn) + ": rowPtr decreases at row " + std::to_string(r));
  need(rowPtr[rows] == nCol, std::string(fn) + ": rowPtr ends at " + std::to_string(rowPtr[rows]) + ", colIdx has " + std::to_string(nCol) + " entries");
  need(nnz == nCol, std::string(fn) + ": " + std::to_string(nnz) + " values for " + std::to_string(nCol) + " stored entries");
  for (int64_t k = 0; k < nCol; ++k)
    need(colIdx[k] >= 0 && colIdx[k] < cols, std::string(fn) + ": colIdx[" + std::to_string(k) + "] = " + std::to_string(colIdx[k]) + " is outside [0, " + std::to_string(cols) + ")");
}

void k_sparseConv2d(Args& a, const SparseConv2dCall& k) {
  const SparseConv& p = k.p;
  checkCsr(a.fn, k.rowPtr, k.rowPtrLen, k.colIdx, k.colIdxLen, p.oc, p.c * p.kh * p.kw, k.valuesLen);
  need(k.xLen == p.n * p.c * p.h * p.w && k.outLen == p.n * p.oc * p.oh * p.ow && (!k.bias || k.biasLen == p.oc), "sparseConv2d: a buffer does not match its shape");
  if (k.outLen == 0) return;
  sparse->convForward(k.x, k.values, k.rowPtr, k.colIdx, k.bias, k.out, &p);
}

void k_sparseConv2dBackwardData(Args& a, const SparseConv2dBackwardDataCall& k) {
  const SparseConv& p = k.p;
  checkCsr(a.fn, k.rowPtr, k.rowPtrLen, k.colIdx, k.colIdxLen, p.oc, p.c * p.kh * p.kw, k.valuesLen);
  need(k.gxLen == p.n * p.c * p.h * p.w && k.gyLen == p.n * p.oc * p.oh * p.ow, "sparseConv2dBackwardData: a buffer does not match its shape");
  if (k.gxLen == 0) return;
  sparse->convBackwardData(k.gy, k.values, k.rowPtr, k.colIdx, k.gx, &p);
}

void k_sparseConv2dBackwardWeight(Args& a, const SparseConv2dBackwardWeightCall& k) {
  const SparseConv& p = k.p;
  checkCsr(a.fn, k.rowPtr, k.rowPtrLen, k.colIdx, k.colIdxLen, p.oc, p.c * p.kh * p.kw, k.gvLen);
  need(k.xLen == p.n * p.c * p.h * p.w && k.gyLen == p.n * p.oc * p.oh * p.ow, "sparseConv2dBackwardWeight: a buffer does not match its shape");
  gradPass(k.gv, k.gvLen, p.n == 0, [&] { sparse->convBackwardWeight(k.x, k.gy, k.rowPtr, k.colIdx, k.gv, &p); });
}

void k_sparseLinear(Args& a, const SparseLinearCall& k) {
  const LinDims& d = k.p;
  checkCsr(a.fn, k.rowPtr, k.rowPtrLen, k.colIdx, k.colIdxLen, d.outF, d.inF, k.valuesLen);
  need(k.xLen == d.n * d.inF && k.outLen == d.n * d.outF && (!k.bias || k.biasLen == d.outF), "sparseLinear: a buffer does not match its shape");
  if (k.outLen == 0) return;
  sparse->linearForward(k.x, k.values, k.rowPtr, k.colIdx, k.bias, k.out, d.n, d.inF, d.outF);
}

void k_sparseLinearBackwardData(Args& a, const SparseLinearBackwardDataCall& k) {
  const LinDims& d = k.p;
  checkCsr(a.fn, k.rowPtr, k.rowPtrLen, k.colIdx, k.colIdxLen, d.outF, d.inF, k.valuesLen);
  need(k.gxLen == d.n * d.inF && k.gyLen == d.n * d.outF, "sparseLinearBackwardData: a buffer does not match its shape");
  if (k.gxLen == 0) return;
  sparse->linearBackwardData(k.gy, k.values, k.rowPtr, k.colIdx, k.gx, d.n, d.inF, d.outF);
}

void k_sparseLinearBackwardWeight(Args& a, const SparseLinearBackwardWeightCall& k) {
  const LinDims& d = k.p;
  checkCsr(a.fn, k.rowPtr, k.rowPtrLen, k.colIdx, k.colIdxLen, d.outF, d.inF, k.gvLen);
  need(k.xLen == d.n * d.inF && k.gyLen == d.n * d.outF, "sparseLinearBackwardWeight: a buffer does not match its shape");
  gradPass(k.gv, k.gvLen, d.n == 0, [&] { sparse->linearBackwardWeight(k.x, k.gy, k.rowPtr, k.colIdx, k.gv, d.n, d.inF, d.outF); });
}

// ---------------------------------------------------------------- threads and info

void k_setNumThreads(Args&, const SetNumThreadsCall& k) {
  need(k.n >= 1 && k.n <= 1024, "setNumThreads: n must be between 1 and 1024");
  // oneDNN's OpenMP runtime reads the same setting, so this governs both.
  omp_set_num_threads((int)k.n);
}

napi_value n_numThreads(napi_env env, napi_callback_info) {
  napi_value v;
  napi_create_int32(env, omp_get_max_threads(), &v);
  return v;
}

// The memory allocator. Every op's output is a fresh typed array, and glibc serves the large ones
// (above 128 KiB at first) with mmap and returns them to the system when they are freed, so each
// training step took its activations from the kernel again: a page fault per 4 KiB page, under a
// hypervisor the largest single cost of a ResNet-20 step (a quarter of its time). At load pai asks
// glibc to serve blocks up to 32 MiB from its heap and to keep up to 1 GiB of freed heap, so a
// steady-state step reuses the pages it freed. PAI_MALLOC=system leaves glibc's defaults.
//
// Blocks above 32 MiB (a probe buffer of the Hutchinson criteria, ResNet-18's first activations at
// batch 128) still come from mmap, fresh on every allocation, and under a hypervisor a 4 KiB
// first-touch fault measured 20-27 us on the 2-core Zen 5 development machine: 44 MiB took 220-310
// ms to touch, against 20 ms in 2 MiB pages. Where transparent huge pages are enabled only on
// request (`madvise`, the Debian default), each kernel therefore asks for them on the whole 2 MiB
// pages of an output of at least 4 MiB before writing it: a fresh output is then faulted in 2 MiB
// pages, and one already touched is left as it is (khugepaged may merge it later). The advice
// changes no value. A ResNet-18 step at batch 128 took 595,000 faults fewer in five steps and 16 %
// less CPU time with glibc advising the same blocks. PAI_MALLOC=system skips this too.
bool heapTuned = false;       // glibc keeps blocks up to 32 MiB on its heap
bool hugePageAdvice = false;  // kernels advise huge pages for outputs from 4 MiB

void tuneAllocator() {
#if defined(__GLIBC__)
  const char* mode = getenv("PAI_MALLOC");
  if (mode && strcmp(mode, "system") == 0) return;
  heapTuned = mallopt(M_MMAP_THRESHOLD, 32 << 20) && mallopt(M_TRIM_THRESHOLD, 1 << 30) && mallopt(M_TOP_PAD, 64 << 20);
#endif
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  hugePageAdvice = true;
#endif
}

// What `pai info` names as the allocator, derived from the two settings above.
std::string allocatorMode() {
  std::string mode = heapTuned ? "glibc, heap up to 32 MiB blocks, keeps 1 GiB" : "system";
  if (hugePageAdvice) mode += "; huge pages for outputs from 4 MiB";
  return mode;
}

void adviseHugePages(void* p, int64_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  constexpr uintptr_t kHuge = uintptr_t(2) << 20;
  if (!hugePageAdvice || bytes < int64_t(4) << 20) return;
  const uintptr_t lo = ((uintptr_t)p + kHuge - 1) & ~(kHuge - 1), hi = ((uintptr_t)p + (uintptr_t)bytes) & ~(kHuge - 1);
  // Advice only: a kernel without transparent huge pages answers EINVAL, and the pages stay small.
  if (hi > lo) (void)madvise((void*)lo, hi - lo, MADV_HUGEPAGE);
#else
  (void)p; (void)bytes;
#endif
}

napi_value n_info(napi_env env, napi_callback_info) {
  return guard(env, [&] {
    napi_value o, isa, ver, cores, alloc;
    NAPI_OK(napi_create_object(env, &o));
    NAPI_OK(napi_create_string_utf8(env, ew->isa, NAPI_AUTO_LENGTH, &isa));
    NAPI_OK(napi_create_string_utf8(env, dnnVersion(), NAPI_AUTO_LENGTH, &ver));
    NAPI_OK(napi_create_int32(env, omp_get_num_procs(), &cores));
    NAPI_OK(napi_set_named_property(env, o, "isa", isa));
    NAPI_OK(napi_set_named_property(env, o, "onednn", ver));
    NAPI_OK(napi_set_named_property(env, o, "cores", cores));
    const std::string mode = allocatorMode();
    NAPI_OK(napi_create_string_utf8(env, mode.c_str(), mode.size(), &alloc));
    NAPI_OK(napi_set_named_property(env, o, "allocator", alloc));
    return o;
  });
}

// The builds of pai's own loops by level: 0 the baseline, 1 AVX2+FMA, 2 AVX-512.
const EwTable* ewAt(int level) {
  return level == 2 ? ew_avx512::table() : level == 1 ? ew_avx2::table() : ew_base::table();
}
const SparseTable* sparseAt(int level) {
  return level == 2 ? sparse_avx512::table() : level == 1 ? sparse_avx2::table() : sparse_base::table();
}

napi_value Init(napi_env env, napi_value exports) {
  // The build of pai's own loops: AVX2+FMA where the CPU has it, else the baseline. The AVX-512 build
  // (F, BW, DQ, VL) is chosen only with PAI_NATIVE_ISA=avx512: measured on a Zen 5 it was no faster
  // on ReLU and about 15 % slower on a broadcast-free add of 1M floats at 2 threads, so it is not the
  // default until a loop gains from it. PAI_NATIVE_ISA=sse2|avx2|avx512 caps the choice (the tests
  // run every build the CPU supports against the reference).
  const char* force = getenv("PAI_NATIVE_ISA");
  const int cap = !force ? 1 : strcmp(force, "sse2") == 0 ? 0 : strcmp(force, "avx512") == 0 ? 2 : 1;
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  const bool avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
      && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
  const int cpuLevel = avx512 ? 2 : avx2 ? 1 : 0;
  const int level = std::min(cap, cpuLevel);
  widest = ewAt(force ? level : cpuLevel);
  ew = ewAt(level);
  sparse = sparseAt(level);
  tuneAllocator();
  // Default: one thread per core, unless the user set OMP_NUM_THREADS.
  if (!getenv("OMP_NUM_THREADS")) omp_set_num_threads(omp_get_num_procs());

  for (const auto& f : kExported) {
    napi_value fn;
    if (napi_create_function(env, f.name, NAPI_AUTO_LENGTH, f.cb, nullptr, &fn) != napi_ok) return nullptr;
    if (napi_set_named_property(env, exports, f.name, fn) != napi_ok) return nullptr;
  }
  return exports;
}

}  // namespace
}  // namespace pai

NAPI_MODULE(NODE_GYP_MODULE_NAME, pai::Init)
