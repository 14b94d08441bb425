export { grad, backward, hvp, noGrad, enableGrad, isGradEnabled, record, Node, type GradOptions } from './graph.js';
export type { OpCall, OpDef, OpSpec, OpVjp, OnnxCall, OnnxEmitter, OnnxAttr } from './op.js';
export * as ops from './ops/index.js';
export * from './ops/index.js';
