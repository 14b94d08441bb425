// The library entry: every layer of DESIGN.md as a namespace, and the most used names directly.
export * as kernels from './kernels/index.js';
export * as tensor from './tensor/index.js';
export * as autograd from './autograd/index.js';
export * as nn from './nn/index.js';
export * as models from './models/index.js';
export * as data from './data/index.js';
export * as prune from './prune/index.js';
export * as train from './train/index.js';
export * as interop from './export/index.js';
export * as experiment from './experiment/index.js';

export { Tensor, Generator, saveTensors, loadTensors, OptionsError } from './tensor/index.js';
export { grad, backward, hvp, noGrad } from './autograd/index.js';
export { createModel, listModels } from './models/index.js';
export { scoreParameters, makeMasks, applyMasks, pruneAtInit } from './prune/index.js';
export { trainModel, evaluate } from './train/index.js';
