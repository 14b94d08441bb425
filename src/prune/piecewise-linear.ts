// When the exact Gauss-Newton diagonal is the Hessian diagonal.
//
// For a loss ℓ(f(x; θ)), H = Jᵀ H_ℓ J + Σ_c (∂ℓ/∂f_c) ∇²_θ f_c. The second term's diagonal,
// ∂²f_c/∂θ_i², vanishes when the network is linear in each single weight θ_i on every linear
// piece: each parameter tensor enters through a linear (or bilinear, with another tensor) op, and
// everything after it is piecewise linear: ReLU, convolution, linear, pooling, residual adds,
// eval-mode batch norm. Then diag(H) = diag(GGN) exactly, and ggn_diag is the zero-variance limit of
// hutch_diag. It fails for smooth non-linearities (GELU, tanh, sigmoid), LayerNorm (a weight also
// moves the statistics it is normalised by), softmax attention, train-mode batch norm, and any
// product of two quantities that depend on the same parameter tensor. There the GGN diagonal is a
// positive semi-definite approximation of a different quantity.
//
// This module checks a model by tracing one eval-mode forward pass and following which tensors
// depend on which parameters; each op's op-table entry says how its output depends on its inputs
// (its `curvature`: piecewise linear, bilinear in its first two inputs, or nonlinear).

import { noGrad } from '../autograd/graph.js';
import { withTrace } from '../autograd/trace.js';
import { zeros } from '../tensor/create.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Module } from '../nn/module.js';

/** The verdict of checkPiecewiseLinear. */
export interface PiecewiseLinearCheck {
  /** True when diag(H) = diag(GGN) holds for this model in eval mode. */
  holds: boolean;
  /** Why not: the ops (names) on a parameter's path that break it. */
  offending: string[];
}

/**
 * Traces one eval-mode forward pass of `model` on a zero batch of one input of `inputShape` and
 * reports the ops, downstream of a parameter, that are not piecewise linear in it.
 */
export function checkPiecewiseLinear(model: Module, inputShape: readonly number[]): PiecewiseLinearCheck {
  const wasTraining = model.training;
  model.eval();
  const params = model.parameters();
  try {
    const { events } = noGrad(() => withTrace(() => model.forward(zeros([1, ...inputShape], { dtype: params[0]?.dtype ?? 'float32' }))));
    // Which parameters (indices) each tensor depends on.
    const deps = new Map<Tensor, Set<number>>();
    params.forEach((p, i) => deps.set(p, new Set([i])));
    const offending = new Set<string>();
    for (const e of events) {
      const inputDeps = e.inputs.map((t) => (t ? deps.get(t) : undefined));
      const union = new Set<number>();
      for (const d of inputDeps) if (d) for (const i of d) union.add(i);
      if (union.size === 0) continue;
      deps.set(e.output, union);
      const curvature = e.op.curvature;
      if (curvature === undefined) { offending.add(e.op.name); continue; }
      const [a, b] = inputDeps;
      if (curvature === 'bilinear' && a && b && [...a].some((i) => b.has(i))) offending.add(`${e.op.name} of two factors that depend on one parameter`);
    }
    return { holds: offending.size === 0, offending: [...offending].sort() };
  } finally {
    model.train(wasTraining);
  }
}
