export * from './types.js';
export { type MaskData, type ScoreContext, maskBatches, temperedLoss } from './context.js';
export { makeMasks, keptCount, topKMask, maskDensity, checkSparsity } from './masks.js';
export { applyMasks } from './apply.js';
export { bnWarmup } from './warmup.js';
export { scoreParameters, resolveCriterionOptions, type ScoreOptions } from './score.js';
export { iterativePrune, scheduleSparsity, type Schedule, type IterativeOptions } from './iterative.js';
export { collapseReport, layerDensities, pathSurvives, formatDensityTable, type CollapseReport, type LayerDensity } from './collapse.js';
export { pruneAtInit, prunableSet, type PruneOptions, type PruneResult } from './prune.js';
export { criteria, criterionNames, getCriterion, hutchinsonDiagonal, ggnDiagonal, gradientSum, gradientMoments, type Criterion, type CriterionOptions } from './criteria/index.js';
export {
  ScoreCache, cachedScores, scoreCacheKey, hashWeights, hashMaskData, DEFAULT_SCORE_CACHE_DIR, DEFAULT_SCORE_CACHE_MAX_BYTES,
  type ScoreCacheKey, type ScoreCacheKeyInput, type ScoreCacheOptions, type ScoreCacheUsage, type ScoreCacheEntry,
} from './cache.js';
