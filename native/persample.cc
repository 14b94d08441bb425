// Reductions of per-sample convolution weight gradients G_n without [n, ...] stacks: Σ_n G_n and
// Σ_n G_n² (batched empirical Fisher / Gauss-Newton) and Σ_n z_n ⊙ G_n for per-sample probes z_n
// (batched Hutchinson, whose second backward pass yields G_n = H_n z_n). Each G_n is one batch-1
// oneDNN weight gradient into a scratch buffer, folded into every accumulator in one streaming pass.
// The stacked form (the batch-1 primitive per sample, then squaring and summing the stack with
// separate kernels) streamed each G_n through memory three to four times and allocated the stacks.
// A tiled im2col + sgemm kernel that kept tiles of the accumulators in cache was tried and measured
// slower: the deep layers reduce over only oh * ow = 16 positions, where sgemm calls are dominated
// by packing, while oneDNN's direct backward-weights kernels stay efficient at batch 1.
#include "persample.h"

#include <omp.h>

#include <vector>

namespace pai {

void convWeightGradReduce(const float* x, const float* gy, float* sum, float* sq, const float* z, float* zacc, const ConvArgs& p) {
  if (p.n == 0 || p.oc == 0 || p.c == 0) return;
  const int64_t xs = p.c * p.h * p.w, ys = p.oc * p.oh * p.ow, ws = p.oc * (p.c / p.groups) * p.kh * p.kw;
  ConvArgs q = p;
  q.n = 1;
  // Per thread that calls in (Node worker threads may each load the addon); grows, never shrinks.
  static thread_local std::vector<float> scratch;
  if ((int64_t)scratch.size() < ws) scratch.resize(ws);
  float* gn = scratch.data();
  for (int64_t n = 0; n < p.n; ++n) {
    dnnConvBackwardWeight(x + n * xs, gy + n * ys, gn, q);
    const float* zn = z ? z + n * ws : nullptr;
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < ws; ++i) {
      const float v = gn[i];
      if (sum) sum[i] += v;
      if (sq) sq[i] += v * v;
      if (zn) zacc[i] += zn[i] * v;
    }
  }
}

}  // namespace pai
