// Node-API entry points: argument checking and unpacking, then a call into the loop kernels (ew_*)
// or oneDNN (dnn.cc). Written against the plain C Node-API so the addon needs no npm dependency and
// keeps one ABI across Node versions. Every size is checked against the typed arrays' lengths here,
// because a wrong shape from JS would otherwise be an out-of-bounds write in native memory.
#define NAPI_VERSION 8
#include <node_api.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include <cmath>
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
      throw JsTypeError(where(i) + (want == napi_float32_array ? " must be a Float32Array (the native backend computes in float32 only)"
                                                               : " must be an Int32Array"));
    *len = (int64_t)length;
    return static_cast<T*>(data);
  }
  float* f32(size_t i, int64_t* len, bool nullable = false) { return typed<float>(i, napi_float32_array, len, nullable); }
  int32_t* i32(size_t i, int64_t* len) { return typed<int32_t>(i, napi_int32_array, len); }

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

// ---------------------------------------------------------------- element-wise

napi_value Unary(napi_env env, napi_callback_info info) {
  return guard(env, [&] {
    Args a(env, info, "unary", 3);
    int64_t op = a.integer(0), nx, no;
    const float* x = a.f32(1, &nx);
    float* out = a.f32(2, &no);
    need(op < U_COUNT, "unary: unknown op");
    need(no >= nx, "unary: out is shorter than x");
    ew->unary((int)op, x, out, nx);
    return undef(env);
  });
}

napi_value Affine(napi_env env, napi_callback_info info) {
  return guard(env, [&] {
    Args a(env, info, "affine", 4);
    int64_t nx, no;
    const float* x = a.f32(0, &nx);
    float* out = a.f32(3, &no);
    need(no >= nx, "affine: out is shorter than x");
    ew->affine(x, (float)a.num(1), (float)a.num(2), out, nx);
    return undef(env);
  });
}

napi_value PowScalar(napi_env env, napi_callback_info info) {
  return guard(env, [&] {
    Args a(env, info, "powScalar", 3);
    int64_t nx, no;
    const float* x = a.f32(0, &nx);
    float* out = a.f32(2, &no);
    need(no >= nx, "powScalar: out is shorter than x");
    ew->powScalar(x, (float)a.num(1), out, nx);
    return undef(env);
  });
}

// Builds the coalesced iteration plan for k inputs broadcasting to outShape. Returns false when
// the output is empty.
bool plan(const char* fn, int k, const std::vector<int64_t>* shapes, const int64_t* lens,
          const std::vector<int64_t>& outShape, int64_t outLen, BcastPlan* p) {
  const size_t r = outShape.size();
  need(outLen >= prod(outShape), std::string(fn) + ": out is shorter than outShape");
  std::vector<std::vector<int64_t>> st(k + 1, std::vector<int64_t>(r, 0));
  for (int o = 0; o < k; ++o) {
    const auto& s = shapes[o];
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

napi_value Binary(napi_env env, napi_callback_info info) {
  return guard(env, [&] {
    Args a(env, info, "binary", 7);
    int64_t op = a.integer(0), lens[2], no;
    need(op < B_COUNT, "binary: unknown op");
    const float* x = a.f32(1, &lens[0]);
    std::vector<int64_t> shapes[2] = {a.ints(2), a.ints(4)};
    const float* y = a.f32(3, &lens[1]);
    float* out = a.f32(5, &no);
    BcastPlan p;
    if (plan("binary", 2, shapes, lens, a.ints(6), no, &p)) ew->binary((int)op, x, y, out, &p);
    return undef(env);
  });
}

napi_value Where(napi_env env, napi_callback_info info) {
  return guard(env, [&] {
    Args a(env, info, "where", 8);
    int64_t lens[3], no;
    const float* c = a.f32(0, &lens[0]);
    const float* x = a.f32(2, &lens[1]);
    const float* y = a.f32(4, &lens[2]);
    std::vector<int64_t> shapes[3] = {a.ints(1), a.ints(3), a.ints(5)};
    float* out = a.f32(6, &no);
    BcastPlan p;
    if (plan("where", 3, shapes, lens, a.ints(7), no, &p)) ew->where(c, x, y, out, &p);
    return undef(env);
  });
}

napi_value Reduce(napi_env env, napi_callback_info info) {
  return guard(env, [&] {
    Args a(env, info, "reduce", 5);
    int64_t op = a.integer(0), nx, no;
    need(op < R_COUNT, "reduce: unknown op");
    const float* x = a.f32(1, &nx);
    std::vector<int64_t> shape = a.ints(2), axes = a.ints(3);
    float* out = a.f32(4, &no);
    std::vector<int> red(shape.size(), 0);
    for (size_t i = 0; i < axes.size(); ++i) {
      need(axes[i] < (int64_t)shape.size(), "reduce: axis out of range");
      need(i == 0 || axes[i] > axes[i - 1], "reduce: axes must be sorted and distinct");
      red[axes[i]] = 1;
    }
    need(nx >= prod(shape), "reduce: x is shorter than shape");
    int64_t outSize = 1, redCount = 1;
    for (size_t d = 0; d < shape.size(); ++d) (red[d] ? redCount : outSize) *= shape[d];
    need(no >= outSize, "reduce: out is shorter than the kept dims");
    std::vector<int64_t> dims;
    std::vector<int> isRed;
    for (size_t d = 0; d < shape.size(); ++d) {
      if (shape[d] == 1) continue;
      if (!dims.empty() && isRed.back() == red[d]) dims.back() *= shape[d];
      else { dims.push_back(shape[d]); isRed.push_back(red[d]); }
    }
    bool anyRed = false;
    for (int r : isRed) anyRed |= r != 0;
    if (outSize == 0) return undef(env);
    if (!anyRed && redCount != 0) {
      memcpy(out, x, sizeof(float) * outSize);
      return undef(env);
    }
    need(dims.size() <= (size_t)kMaxDims, "reduce: too many dimensions");
    ew->reduce((int)op, x, (int)dims.size(), dims.data(), isRed.data(), out, outSize);
    return undef(env);
  });
}

napi_value CopyStrided(napi_env env, napi_callback_info info) {
  return guard(env, [&] {
    Args a(env, info, "copyStrided", 7);
    int64_t ns, nd;
    const float* src = a.f32(0, &ns);
    int64_t so = a.integer(1);
    std::vector<int64_t> ss = a.ints(2, false), shape = a.ints(3), ds = a.ints(6, false);
    float* dst = a.f32(4, &nd);
    int64_t dO = a.integer(5);
    need(ss.size() == shape.size() && ds.size() == shape.size(), "copyStrided: strides and shape differ in rank");
    if (prod(shape) == 0) return undef(env);
    int64_t slo = so, shi = so, dlo = dO, dhi = dO;
    for (size_t d = 0; d < shape.size(); ++d) {
      const int64_t e = shape[d] - 1;
      (ss[d] < 0 ? slo : shi) += ss[d] * e;
      (ds[d] < 0 ? dlo : dhi) += ds[d] * e;
    }
    need(slo >= 0 && shi < ns, "copyStrided: source index out of range");
    need(dlo >= 0 && dhi < nd, "copyStrided: destination index out of range");
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
    ew->copyStrided(src + so, dst + dO, (int)dims.size(), dims.data(), cs.data(), cd.data());
    return undef(env);
  });
}

napi_value Gather(napi_env env, napi_callback_info info) {
  return guard(env, [&] {
    Args a(env, info, "gather", 3);
    int64_t nx, ni, no;
    const float* x = a.f32(0, &nx);
    const int32_t* idx = a.i32(1, &ni);
    float* out = a.f32(2, &no);
    need(no >= ni, "gather: out is shorter than idx");
    int64_t bad = ew->gather(x, nx, idx, out, ni);
    need(bad < 0, "gather: index out of range at position " + std::to_string(bad));
    return undef(env);
  });
}

napi_value ScatterAdd(napi_env env, napi_callback_info info) {
  return guard(env, [&] {
    Args a(env, info, "scatterAdd", 3);
    int64_t ng, ni, no;
    const float* g = a.f32(0, &ng);
    const int32_t* idx = a.i32(1, &ni);
    float* out = a.f32(2, &no);
    need(ng >= ni, "scatterAdd: g is shorter than idx");
    int64_t bad = ew->scatterAdd(g, idx, out, no, ni);
    need(bad < 0, "scatterAdd: index out of range at position " + std::to_string(bad));
    return undef(env);
  });
}

// ---------------------------------------------------------------- oneDNN

napi_value Matmul(napi_env env, napi_callback_info info) {
  return guard(env, [&] {
    Args a(env, info, "matmul", 4);
    int64_t na, nb, no;
    const float* A = a.f32(0, &na);
    const float* B = a.f32(1, &nb);
    float* out = a.f32(2, &no);
    MatmulArgs p;
    p.batch = a.prop(3, "batch"); p.m = a.prop(3, "m"); p.k = a.prop(3, "k"); p.n = a.prop(3, "n");
    p.transA = a.propBool(3, "transA"); p.transB = a.propBool(3, "transB");
    p.aBatchStride = a.prop(3, "aBatchStride"); p.bBatchStride = a.prop(3, "bBatchStride");
    p.accumulate = a.propBool(3, "accumulate");
    if (p.batch == 0 || p.m == 0 || p.n == 0) return undef(env);
    need(no >= p.batch * p.m * p.n, "matmul: out is shorter than batch*m*n");
    need(p.k == 0 || na >= (p.batch - 1) * p.aBatchStride + p.m * p.k, "matmul: a is too short");
    need(p.k == 0 || nb >= (p.batch - 1) * p.bBatchStride + p.k * p.n, "matmul: b is too short");
    dnnMatmul(A, B, out, p);
    return undef(env);
  });
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

napi_value Conv2d(napi_env env, napi_callback_info info) {
  return guard(env, [&] {
    Args a(env, info, "conv2d", 5);
    int64_t nx, nw, nb, ny;
    const float* x = a.f32(0, &nx);
    const float* w = a.f32(1, &nw);
    const float* b = a.f32(2, &nb, true);
    float* y = a.f32(3, &ny);
    ConvArgs p = convArgs(a, 4);
    need(nx >= xSize(p) && nw >= wSize(p) && ny >= ySize(p) && (!b || nb >= p.oc), "conv2d: a buffer is shorter than its shape");
    if (ySize(p) == 0) return undef(env);
    if (xSize(p) == 0 || wSize(p) == 0) {  // c == 0: only the bias remains
      for (int64_t i = 0; i < ySize(p); ++i) y[i] = b ? b[(i / (p.oh * p.ow)) % p.oc] : 0.f;
      return undef(env);
    }
    dnnConvForward(x, w, b, y, p);
    return undef(env);
  });
}

napi_value Conv2dBackwardData(napi_env env, napi_callback_info info) {
  return guard(env, [&] {
    Args a(env, info, "conv2dBackwardData", 4);
    int64_t ny, nw, nx;
    const float* gy = a.f32(0, &ny);
    const float* w = a.f32(1, &nw);
    float* gx = a.f32(2, &nx);
    ConvArgs p = convArgs(a, 3);
    need(nx >= xSize(p) && nw >= wSize(p) && ny >= ySize(p), "conv2dBackwardData: a buffer is shorter than its shape");
    if (xSize(p) == 0) return undef(env);
    if (ySize(p) == 0 || wSize(p) == 0) { memset(gx, 0, sizeof(float) * xSize(p)); return undef(env); }
    dnnConvBackwardData(gy, w, gx, p);
    return undef(env);
  });
}

napi_value Conv2dBackwardWeight(napi_env env, napi_callback_info info) {
  return guard(env, [&] {
    Args a(env, info, "conv2dBackwardWeight", 4);
    int64_t nx, ny, nw;
    const float* x = a.f32(0, &nx);
    const float* gy = a.f32(1, &ny);
    float* gw = a.f32(2, &nw);
    ConvArgs p = convArgs(a, 3);
    need(nx >= xSize(p) && nw >= wSize(p) && ny >= ySize(p), "conv2dBackwardWeight: a buffer is shorter than its shape");
    if (wSize(p) == 0) return undef(env);
    if (xSize(p) == 0 || ySize(p) == 0) { memset(gw, 0, sizeof(float) * wSize(p)); return undef(env); }
    dnnConvBackwardWeight(x, gy, gw, p);
    return undef(env);
  });
}

napi_value Conv2dWeightGradMoments(napi_env env, napi_callback_info info) {
  return guard(env, [&] {
    Args a(env, info, "conv2dWeightGradMoments", 5);
    int64_t nx, ny, ns, nq;
    const float* x = a.f32(0, &nx);
    const float* gy = a.f32(1, &ny);
    float* sum = a.f32(2, &ns, true);
    float* sq = a.f32(3, &nq);
    ConvArgs p = convArgs(a, 4);
    need(nx >= xSize(p) && ny >= ySize(p) && nq >= wSize(p) && (!sum || ns >= wSize(p)),
         "conv2dWeightGradMoments: a buffer is shorter than its shape");
    if (wSize(p) == 0 || xSize(p) == 0 || ySize(p) == 0) return undef(env);
    convWeightGradReduce(x, gy, sum, sq, nullptr, nullptr, p);
    return undef(env);
  });
}

napi_value Conv2dWeightGradProbeDot(napi_env env, napi_callback_info info) {
  return guard(env, [&] {
    Args a(env, info, "conv2dWeightGradProbeDot", 5);
    int64_t nx, ny, nz, na;
    const float* x = a.f32(0, &nx);
    const float* gy = a.f32(1, &ny);
    const float* z = a.f32(2, &nz);
    float* acc = a.f32(3, &na);
    ConvArgs p = convArgs(a, 4);
    need(nx >= xSize(p) && ny >= ySize(p) && nz >= p.n * wSize(p) && na >= wSize(p),
         "conv2dWeightGradProbeDot: a buffer is shorter than its shape");
    if (wSize(p) == 0 || xSize(p) == 0 || ySize(p) == 0) return undef(env);
    convWeightGradReduce(x, gy, nullptr, nullptr, z, acc, p);
    return undef(env);
  });
}

napi_value RademacherFill(napi_env env, napi_callback_info info) {
  return guard(env, [&] {
    Args a(env, info, "rademacherFill", 2);
    bool is = false;
    NAPI_OK(napi_is_typedarray(env, a.argv[0], &is));
    if (!is) throw JsTypeError("rademacherFill: argument 0 must be a Uint32Array");
    napi_typedarray_type type;
    size_t len;
    void* data;
    NAPI_OK(napi_get_typedarray_info(env, a.argv[0], &type, &len, &data, nullptr, nullptr));
    if (type != napi_uint32_array || len != 4) throw JsTypeError("rademacherFill: argument 0 must be a Uint32Array of 4 words");
    int64_t n;
    float* out = a.f32(1, &n);
    rademacherFill(static_cast<uint32_t*>(data), out, n);
    return undef(env);
  });
}

// ---------------------------------------------------------------- pooling

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

napi_value MaxPool2d(napi_env env, napi_callback_info info) {
  return guard(env, [&] {
    Args a(env, info, "maxPool2d", 4);
    int64_t nx, no, ni;
    const float* x = a.f32(0, &nx);
    float* out = a.f32(1, &no);
    int32_t* idx = a.i32(2, &ni);
    Pool p = poolArgs(a, 3, false);
    need(nx >= p.n * p.c * p.h * p.w && no >= p.n * p.c * p.oh * p.ow && ni >= p.n * p.c * p.oh * p.ow,
         "maxPool2d: a buffer is shorter than its shape");
    need(p.n * p.c * p.h * p.w <= 2147483647LL, "maxPool2d: input too large for int32 indices");
    ew->maxPool(x, out, idx, &p);
    return undef(env);
  });
}

napi_value AvgPool2d(napi_env env, napi_callback_info info) {
  return guard(env, [&] {
    Args a(env, info, "avgPool2d", 3);
    int64_t nx, no;
    const float* x = a.f32(0, &nx);
    float* out = a.f32(1, &no);
    Pool p = poolArgs(a, 2, false);
    need(nx >= p.n * p.c * p.h * p.w && no >= p.n * p.c * p.oh * p.ow, "avgPool2d: a buffer is shorter than its shape");
    ew->avgPool(x, out, &p);
    return undef(env);
  });
}

napi_value AvgPool2dBackward(napi_env env, napi_callback_info info) {
  return guard(env, [&] {
    Args a(env, info, "avgPool2dBackward", 3);
    int64_t ny, nx;
    const float* gy = a.f32(0, &ny);
    float* gx = a.f32(1, &nx);
    Pool p = poolArgs(a, 2, false);
    need(nx >= p.n * p.c * p.h * p.w && ny >= p.n * p.c * p.oh * p.ow, "avgPool2dBackward: a buffer is shorter than its shape");
    ew->avgPoolBackward(gy, gx, &p);
    return undef(env);
  });
}

napi_value AdaptiveAvgPool2d(napi_env env, napi_callback_info info) {
  return guard(env, [&] {
    Args a(env, info, "adaptiveAvgPool2d", 3);
    int64_t nx, no;
    const float* x = a.f32(0, &nx);
    float* out = a.f32(1, &no);
    Pool p = poolArgs(a, 2, true);
    need(nx >= p.n * p.c * p.h * p.w && no >= p.n * p.c * p.oh * p.ow, "adaptiveAvgPool2d: a buffer is shorter than its shape");
    ew->adaptiveAvgPool(x, out, &p);
    return undef(env);
  });
}

napi_value AdaptiveAvgPool2dBackward(napi_env env, napi_callback_info info) {
  return guard(env, [&] {
    Args a(env, info, "adaptiveAvgPool2dBackward", 3);
    int64_t ny, nx;
    const float* gy = a.f32(0, &ny);
    float* gx = a.f32(1, &nx);
    Pool p = poolArgs(a, 2, true);
    need(nx >= p.n * p.c * p.h * p.w && ny >= p.n * p.c * p.oh * p.ow, "adaptiveAvgPool2dBackward: a buffer is shorter than its shape");
    ew->adaptiveAvgPoolBackward(gy, gx, &p);
    return undef(env);
  });
}

// ---------------------------------------------------------------- per-channel (normalisation)

struct ChanDims { int64_t n, c, inner, total; };
ChanDims chanDims(Args& a, size_t i, const char* fn) {
  ChanDims d{a.integer(i), a.integer(i + 1), a.integer(i + 2), 0};
  need(d.n <= (int64_t)1 << 40 && d.c <= (int64_t)1 << 40 && d.inner <= (int64_t)1 << 40, std::string(fn) + ": dims too large");
  d.total = d.n * d.c * d.inner;
  return d;
}
// A per-channel vector must hold c values; a full operand n * c * inner.
void needLen(int64_t len, int64_t want, const char* fn, const char* what) {
  need(len >= want, std::string(fn) + ": " + what + " is shorter than its shape");
}

napi_value ChannelMoments(napi_env env, napi_callback_info info) {
  return guard(env, [&] {
    Args a(env, info, "channelMoments", 6);
    int64_t nx, nm, nv;
    const float* x = a.f32(0, &nx);
    ChanDims d = chanDims(a, 1, a.fn);
    float* mean = a.f32(4, &nm);
    float* var = a.f32(5, &nv);
    needLen(nx, d.total, a.fn, "x");
    needLen(nm, d.c, a.fn, "mean");
    needLen(nv, d.c, a.fn, "variance");
    need(d.c == 0 || d.n * d.inner > 0, "channelMoments: no values per channel");
    ew->channelMoments(x, d.n, d.c, d.inner, mean, var);
    return undef(env);
  });
}

napi_value ChannelAffine(napi_env env, napi_callback_info info) {
  return guard(env, [&] {
    Args a(env, info, "channelAffine", 8);
    int64_t nx, nm, na, nd, no;
    const float* x = a.f32(0, &nx);
    const float* m = a.f32(1, &nm, true);
    const float* sc = a.f32(2, &na);
    const float* sh = a.f32(3, &nd, true);
    float* out = a.f32(4, &no);
    ChanDims d = chanDims(a, 5, a.fn);
    needLen(nx, d.total, a.fn, "x");
    needLen(no, d.total, a.fn, "out");
    needLen(na, d.c, a.fn, "a");
    if (m) needLen(nm, d.c, a.fn, "m");
    if (sh) needLen(nd, d.c, a.fn, "d");
    ew->channelAffine(x, m, sc, sh, out, d.n, d.c, d.inner);
    return undef(env);
  });
}

napi_value ChannelGradSums(napi_env env, napi_callback_info info) {
  return guard(env, [&] {
    Args a(env, info, "channelGradSums", 8);
    int64_t ng, nx, nm, n1, n2;
    const float* g = a.f32(0, &ng);
    const float* x = a.f32(1, &nx);
    const float* m = a.f32(2, &nm);
    ChanDims d = chanDims(a, 3, a.fn);
    float* sg = a.f32(6, &n1);
    float* sgx = a.f32(7, &n2);
    needLen(ng, d.total, a.fn, "g");
    needLen(nx, d.total, a.fn, "x");
    needLen(nm, d.c, a.fn, "m");
    needLen(n1, d.c, a.fn, "sg");
    needLen(n2, d.c, a.fn, "sgx");
    ew->channelGradSums(g, x, m, d.n, d.c, d.inner, sg, sgx);
    return undef(env);
  });
}

napi_value ChannelAffineGrad(napi_env env, napi_callback_info info) {
  return guard(env, [&] {
    Args a(env, info, "channelAffineGrad", 10);
    int64_t ng, nx, nm, na, nb, nd, no;
    const float* g = a.f32(0, &ng);
    const float* x = a.f32(1, &nx);
    const float* m = a.f32(2, &nm);
    const float* va = a.f32(3, &na);
    const float* vb = a.f32(4, &nb);
    const float* vd = a.f32(5, &nd);
    float* out = a.f32(6, &no);
    ChanDims d = chanDims(a, 7, a.fn);
    needLen(ng, d.total, a.fn, "g");
    needLen(nx, d.total, a.fn, "x");
    needLen(no, d.total, a.fn, "out");
    needLen(nm, d.c, a.fn, "m");
    needLen(na, d.c, a.fn, "a");
    needLen(nb, d.c, a.fn, "b");
    needLen(nd, d.c, a.fn, "d");
    ew->channelAffineGrad(g, x, m, va, vb, vd, out, d.n, d.c, d.inner);
    return undef(env);
  });
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

SparseConv sparseConvArgs(Args& a, size_t i) {
  ConvArgs c = convArgs(a, i);
  need(c.groups == 1, std::string(a.fn) + ": groups must be 1 (a grouped pruned convolution stays dense)");
  return SparseConv{c.n, c.c, c.h, c.w, c.oc, c.kh, c.kw, c.oh, c.ow, c.sh, c.sw, c.ph, c.pw, c.dh, c.dw};
}

// (x, values, rowPtr, colIdx, bias|null, out, p) / (gy, values, rowPtr, colIdx, gx, p) / (x, gy, rowPtr, colIdx, gv, p)
napi_value SparseConv2d(napi_env env, napi_callback_info info) {
  return guard(env, [&] {
    Args a(env, info, "sparseConv2d", 7);
    int64_t nx, nv, nr, nc, nb, ny;
    const float* x = a.f32(0, &nx);
    const float* v = a.f32(1, &nv);
    const int32_t* rp = a.i32(2, &nr);
    const int32_t* ci = a.i32(3, &nc);
    const float* b = a.f32(4, &nb, true);
    float* y = a.f32(5, &ny);
    SparseConv p = sparseConvArgs(a, 6);
    checkCsr(a.fn, rp, nr, ci, nc, p.oc, p.c * p.kh * p.kw, nv);
    need(nx == p.n * p.c * p.h * p.w && ny == p.n * p.oc * p.oh * p.ow && (!b || nb == p.oc), "sparseConv2d: a buffer does not match its shape");
    if (ny == 0) return undef(env);
    sparse->convForward(x, v, rp, ci, b, y, &p);
    return undef(env);
  });
}

napi_value SparseConv2dBackwardData(napi_env env, napi_callback_info info) {
  return guard(env, [&] {
    Args a(env, info, "sparseConv2dBackwardData", 6);
    int64_t ny, nv, nr, nc, nx;
    const float* gy = a.f32(0, &ny);
    const float* v = a.f32(1, &nv);
    const int32_t* rp = a.i32(2, &nr);
    const int32_t* ci = a.i32(3, &nc);
    float* gx = a.f32(4, &nx);
    SparseConv p = sparseConvArgs(a, 5);
    checkCsr(a.fn, rp, nr, ci, nc, p.oc, p.c * p.kh * p.kw, nv);
    need(nx == p.n * p.c * p.h * p.w && ny == p.n * p.oc * p.oh * p.ow, "sparseConv2dBackwardData: a buffer does not match its shape");
    if (nx == 0) return undef(env);
    sparse->convBackwardData(gy, v, rp, ci, gx, &p);
    return undef(env);
  });
}

napi_value SparseConv2dBackwardWeight(napi_env env, napi_callback_info info) {
  return guard(env, [&] {
    Args a(env, info, "sparseConv2dBackwardWeight", 6);
    int64_t nx, ny, nr, nc, nv;
    const float* x = a.f32(0, &nx);
    const float* gy = a.f32(1, &ny);
    const int32_t* rp = a.i32(2, &nr);
    const int32_t* ci = a.i32(3, &nc);
    float* gv = a.f32(4, &nv);
    SparseConv p = sparseConvArgs(a, 5);
    checkCsr(a.fn, rp, nr, ci, nc, p.oc, p.c * p.kh * p.kw, nv);
    need(nx == p.n * p.c * p.h * p.w && ny == p.n * p.oc * p.oh * p.ow, "sparseConv2dBackwardWeight: a buffer does not match its shape");
    if (nv == 0) return undef(env);
    if (p.n == 0) { memset(gv, 0, sizeof(float) * nv); return undef(env); }
    sparse->convBackwardWeight(x, gy, rp, ci, gv, &p);
    return undef(env);
  });
}

struct LinDims { int64_t n, inF, outF; };
LinDims linDims(Args& a, size_t i) {
  LinDims d{a.prop(i, "n"), a.prop(i, "inF"), a.prop(i, "outF")};
  need(d.n <= (int64_t)1 << 40 && d.inF < (int64_t)1 << 31 && d.outF < (int64_t)1 << 31, std::string(a.fn) + ": dims too large");
  return d;
}

napi_value SparseLinear(napi_env env, napi_callback_info info) {
  return guard(env, [&] {
    Args a(env, info, "sparseLinear", 7);
    int64_t nx, nv, nr, nc, nb, ny;
    const float* x = a.f32(0, &nx);
    const float* v = a.f32(1, &nv);
    const int32_t* rp = a.i32(2, &nr);
    const int32_t* ci = a.i32(3, &nc);
    const float* b = a.f32(4, &nb, true);
    float* y = a.f32(5, &ny);
    LinDims d = linDims(a, 6);
    checkCsr(a.fn, rp, nr, ci, nc, d.outF, d.inF, nv);
    need(nx == d.n * d.inF && ny == d.n * d.outF && (!b || nb == d.outF), "sparseLinear: a buffer does not match its shape");
    if (ny == 0) return undef(env);
    sparse->linearForward(x, v, rp, ci, b, y, d.n, d.inF, d.outF);
    return undef(env);
  });
}

napi_value SparseLinearBackwardData(napi_env env, napi_callback_info info) {
  return guard(env, [&] {
    Args a(env, info, "sparseLinearBackwardData", 6);
    int64_t ny, nv, nr, nc, nx;
    const float* gy = a.f32(0, &ny);
    const float* v = a.f32(1, &nv);
    const int32_t* rp = a.i32(2, &nr);
    const int32_t* ci = a.i32(3, &nc);
    float* gx = a.f32(4, &nx);
    LinDims d = linDims(a, 5);
    checkCsr(a.fn, rp, nr, ci, nc, d.outF, d.inF, nv);
    need(nx == d.n * d.inF && ny == d.n * d.outF, "sparseLinearBackwardData: a buffer does not match its shape");
    if (nx == 0) return undef(env);
    sparse->linearBackwardData(gy, v, rp, ci, gx, d.n, d.inF, d.outF);
    return undef(env);
  });
}

napi_value SparseLinearBackwardWeight(napi_env env, napi_callback_info info) {
  return guard(env, [&] {
    Args a(env, info, "sparseLinearBackwardWeight", 6);
    int64_t nx, ny, nr, nc, nv;
    const float* x = a.f32(0, &nx);
    const float* gy = a.f32(1, &ny);
    const int32_t* rp = a.i32(2, &nr);
    const int32_t* ci = a.i32(3, &nc);
    float* gv = a.f32(4, &nv);
    LinDims d = linDims(a, 5);
    checkCsr(a.fn, rp, nr, ci, nc, d.outF, d.inF, nv);
    need(nx == d.n * d.inF && ny == d.n * d.outF, "sparseLinearBackwardWeight: a buffer does not match its shape");
    if (nv == 0) return undef(env);
    if (d.n == 0) { memset(gv, 0, sizeof(float) * nv); return undef(env); }
    sparse->linearBackwardWeight(x, gy, rp, ci, gv, d.n, d.inF, d.outF);
    return undef(env);
  });
}

// ---------------------------------------------------------------- threads and info

napi_value SetNumThreads(napi_env env, napi_callback_info info) {
  return guard(env, [&] {
    Args a(env, info, "setNumThreads", 1);
    int64_t n = a.integer(0);
    need(n >= 1 && n <= 1024, "setNumThreads: n must be between 1 and 1024");
    // oneDNN's OpenMP runtime reads the same setting, so this governs both.
    omp_set_num_threads((int)n);
    return undef(env);
  });
}

napi_value NumThreads(napi_env env, napi_callback_info) {
  napi_value v;
  napi_create_int32(env, omp_get_max_threads(), &v);
  return v;
}

napi_value Info(napi_env env, napi_callback_info) {
  return guard(env, [&] {
    napi_value o, isa, ver, cores;
    NAPI_OK(napi_create_object(env, &o));
    NAPI_OK(napi_create_string_utf8(env, ew->isa, NAPI_AUTO_LENGTH, &isa));
    NAPI_OK(napi_create_string_utf8(env, dnnVersion(), NAPI_AUTO_LENGTH, &ver));
    NAPI_OK(napi_create_int32(env, omp_get_num_procs(), &cores));
    NAPI_OK(napi_set_named_property(env, o, "isa", isa));
    NAPI_OK(napi_set_named_property(env, o, "onednn", ver));
    NAPI_OK(napi_set_named_property(env, o, "cores", cores));
    return o;
  });
}

napi_value Init(napi_env env, napi_value exports) {
  // AVX2 loops only where the CPU has them; PAI_NATIVE_ISA=sse2 forces the baseline build (tests).
  const char* force = getenv("PAI_NATIVE_ISA");
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  ew = (avx2 && !(force && strcmp(force, "sse2") == 0)) ? ew_avx2::table() : ew_base::table();
  sparse = (avx2 && !(force && strcmp(force, "sse2") == 0)) ? sparse_avx2::table() : sparse_base::table();
  // Default: one thread per core, unless the user set OMP_NUM_THREADS.
  if (!getenv("OMP_NUM_THREADS")) omp_set_num_threads(omp_get_num_procs());

  struct { const char* name; napi_callback cb; } fns[] = {
    {"unary", Unary}, {"affine", Affine}, {"powScalar", PowScalar}, {"binary", Binary}, {"where", Where},
    {"reduce", Reduce}, {"copyStrided", CopyStrided}, {"gather", Gather}, {"scatterAdd", ScatterAdd},
    {"matmul", Matmul}, {"conv2d", Conv2d}, {"conv2dBackwardData", Conv2dBackwardData},
    {"conv2dBackwardWeight", Conv2dBackwardWeight}, {"conv2dWeightGradMoments", Conv2dWeightGradMoments}, {"conv2dWeightGradProbeDot", Conv2dWeightGradProbeDot}, {"rademacherFill", RademacherFill}, {"maxPool2d", MaxPool2d}, {"avgPool2d", AvgPool2d},
    {"avgPool2dBackward", AvgPool2dBackward}, {"adaptiveAvgPool2d", AdaptiveAvgPool2d},
    {"adaptiveAvgPool2dBackward", AdaptiveAvgPool2dBackward}, {"channelMoments", ChannelMoments},
    {"channelAffine", ChannelAffine}, {"channelGradSums", ChannelGradSums},
    {"channelAffineGrad", ChannelAffineGrad}, {"setNumThreads", SetNumThreads},
    {"numThreads", NumThreads}, {"info", Info},
    {"sparseConv2d", SparseConv2d}, {"sparseConv2dBackwardData", SparseConv2dBackwardData},
    {"sparseConv2dBackwardWeight", SparseConv2dBackwardWeight}, {"sparseLinear", SparseLinear},
    {"sparseLinearBackwardData", SparseLinearBackwardData}, {"sparseLinearBackwardWeight", SparseLinearBackwardWeight},
  };
  for (auto& f : fns) {
    napi_value fn;
    if (napi_create_function(env, f.name, NAPI_AUTO_LENGTH, f.cb, nullptr, &fn) != napi_ok) return nullptr;
    if (napi_set_named_property(env, exports, f.name, fn) != napi_ok) return nullptr;
  }
  return exports;
}

}  // namespace
}  // namespace pai

NAPI_MODULE(NODE_GYP_MODULE_NAME, pai::Init)
