export { grad, backward, hvp, noGrad, enableGrad, isGradEnabled, record, Node, type GradOptions, type Vjp } from './graph.js';
export * as ops from './ops/index.js';
export * from './ops/index.js';
