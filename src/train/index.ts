export { SGD, AdamW, createOptimizer, OptimizerError, type Optimizer, type OptimizerSpec, type OptimizerState, type SGDOptions, type AdamWOptions, type NamedParams } from './optim.js';
export { LRScheduler, ConstantSchedule, MultiStepLR, CosineAnnealingLR, LinearWarmup, createScheduler, resolveSchedule, ScheduleError, type ScheduleSpec, type SchedulerState, type HasLr } from './schedule.js';
export { MaskEnforcer, MaskError } from '../prune/masking.js';
export { MetricAccumulator, evaluate, computeMetrics, summarize, rankOf, argmaxRow, batchesOf, batchCount, type Metrics, type MetricSummary, type BatchSource, type LabeledBatch, type EvaluateOptions } from './metrics.js';
export { saveCheckpoint, loadCheckpoint, restoreModel, latestCheckpoint, isCheckpointComplete, writeFileAtomic, CheckpointError, CHECKPOINT_FORMAT, type SaveCheckpointOptions, type LoadedCheckpoint } from './checkpoint.js';
export { trainModel, checkpointPaths, TrainingError, type TrainOptions, type TrainResult, type EpochRecord, type BestRecord, type BestBy, type TrainProgress, type TrainerState, type BestState } from './trainer.js';
export { SparseTraining, type SparseExecutionOption } from './sparse-exec.js';
