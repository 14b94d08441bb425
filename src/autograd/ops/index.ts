import { installEngineOps } from '../graph.js';
import { fullLike, zerosLike } from '../../tensor/create.js';
import { add, mul } from './elementwise.js';
import { sumAll } from './reduce.js';

export * from './elementwise.js';
export * from './reduce.js';
export * from './shape.js';
export * from './linalg.js';
export * from './conv.js';
export * from './pool.js';
export * from './norm.js';
export * from './activation.js';
export * from './loss.js';
export * from './dropout.js';
export * from './sparse.js';
export type { TensorLike } from './util.js';

installEngineOps({ add, mul, sumAll, onesLike: (t) => fullLike(t, 1), zerosLike });
