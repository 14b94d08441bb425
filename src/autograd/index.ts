export { grad, backward, hvp, noGrad, enableGrad, isGradEnabled, record, Node, type GradOptions } from './graph.js';
export type { OpCall, OpDef, OpInputs, OpSpec, OpVjp, OnnxCall, OnnxEmitter, OnnxAttr, OnnxExportRule, PerSampleRule, Curvature } from './op.js';
/** Every differentiable op of the op table, by name (the same functions the autograd namespace exports). */
export * as ops from './ops/index.js';
export * from './ops/index.js';
