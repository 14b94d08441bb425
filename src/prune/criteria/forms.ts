// The saliency forms the second-order criteria share: OBD (½ θ² ⊙ d) and the Taylor form
// (first- plus second-order term), each written once, for any diagonal d (F, D or G).

import type { Tensor } from '../../tensor/tensor.js';
import { toScores, type ScoreContext } from '../context.js';
import { mapScores2, mapScores3 } from '../loops.js';
import { at, zip } from '../../tensor/checked.js';
import type { Scores } from '../types.js';
import type { TaylorForm } from './types.js';

/** OBD (LeCun et al. 1990): ½ θ² ⊙ d, signed. */
export function obd(ctx: ScoreContext, d: readonly Tensor[]): Scores {
  return toScores(ctx, zip(d, ctx.params, 'diagonals and parameters').map(([h, p]) => mapScores2(h, p, (hv, t) => (t * t * hv) / 2)));
}

/**
 * Taylor saliency with mean gradient ḡ and diagonal d: `paper` |θ ⊙ ḡ + ½ θ² ⊙ d| (the released
 * code), `removal` |−θ ⊙ ḡ + ½ θ² ⊙ d| (the second-order loss change of zeroing the weight).
 */
export function taylor(ctx: ScoreContext, meanGrad: readonly Tensor[], d: readonly Tensor[], form: TaylorForm): Scores {
  const sign = form === 'removal' ? -1 : 1;
  return toScores(ctx, zip(d, ctx.params, 'diagonals and parameters').map(([h, p], k) => mapScores3(h, p, at(meanGrad, k, 'mean gradients'), (hv, t, g) => {
    return Math.abs(sign * t * g + (t * t * hv) / 2);
  })));
}
