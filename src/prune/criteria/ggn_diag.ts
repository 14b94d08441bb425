import { toScores } from '../context.js';
import { ggnDiagonal } from '../quantities.js';
import { defineCriterion } from './types.js';

/** Beyond the paper. */
export const ggnDiag = defineCriterion({
  name: 'ggn_diag',
  summary: 'exact Gauss-Newton diagonal; the zero-variance limit of hutch_diag where the network is piecewise linear in each weight',
  formula: 'G = mean_n Σ_c (J_nᵀ a_c)², a_c = √p_c (e_c − p), logits / T',
  doc: 'Beyond the paper: the exact Gauss-Newton diagonal of the cross-entropy of logits / T, from a symmetric factor of the softmax Hessian (one reverse pass per class, no probes). where the network is piecewise linear in each weight (each parameter tensor enters linearly and everything after it is piecewise linear: ReLU, convolution, linear, pooling, residual adds, eval-mode batch norm) it is exactly the Hessian diagonal that hutch_diag estimates, without its noise; it is not for GELU, LayerNorm, softmax attention (the ViTs) or train-mode batch norm, and pai says so when it scores such a model.',
  needsData: true, drawsRandom: false, iterations: 1, quantity: 'ggn-diagonal',
  defaults: () => ({ temperature: 200 }),
  score: (ctx, o) => toScores(ctx, ggnDiagonal(ctx, 'ggn_diag', o.temperature)),
});
