export * from './types.js';
export { prunableParameters, REFERENCE_SKIP } from './prunable.js';
export { type MaskData, type QuantitySource, type ScoreContext, maskBatches, temperedLoss } from './context.js';
export { makeMasks, keptCount, topKMask, maskDensity, checkSparsity } from './masks.js';
export { applyMasks, MaskEnforcer, MaskError } from './masking.js';
export { bnWarmup } from './warmup.js';
export { scoreParameters, resolveCriterionOptions, type ScoreOptions } from './score.js';
export { iterativePrune, scheduleSparsity, type Schedule, type IterativeOptions } from './iterative.js';
export { collapseReport, layerDensities, pathSurvives, formatDensityTable, type CollapseReport, type LayerDensity } from './collapse.js';
export { hashWeights, hashMaskData } from './hash.js';
export { QuantityMemo } from './memo.js';
export { pruneAtInit, prunableSet, type PruneOptions, type PruneResult } from './prune.js';
export {
  criteria, criterionNames, getCriterion, criteriaUsing, OPTION_KEYS, OPTION_SPECS, optionSpecs, showOption,
  type Criterion, type CriterionOptions, type OptionKey, type OptionSpec, type Quantity, type TaylorForm,
} from './criteria/index.js';
export { gradientSum, meanGradient, gradientMoments, hessianGradient, ggnDiagonal, hutchinsonDiagonal, type HutchinsonOptions } from './quantities.js';
export { checkPiecewiseLinear, type PiecewiseLinearCheck } from './piecewise-linear.js';
export {
  ScoreCache, cachedScores, scoreCacheKey, DEFAULT_SCORE_CACHE_DIR, DEFAULT_SCORE_CACHE_MAX_BYTES,
  type ScoreCacheKey, type ScoreCacheKeyInput, type ScoreCacheOptions, type ScoreCacheUsage, type ScoreCacheEntry,
} from './cache.js';
