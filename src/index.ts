// The library entry: every layer of DESIGN.md as a namespace, and the most used names directly.
/** Layer 1: raw compute on flat buffers behind one interface, with the TypeScript reference backend and the native (oneDNN) one. */
export * as kernels from './kernels/index.js';
/** Layer 2: the immutable float tensor, creation helpers, the seeded generator with named streams, safetensors files. */
export * as tensor from './tensor/index.js';
/** Layer 3: define-by-run reverse-mode differentiation; every op's derivative is written in ops, so second derivatives are exact. */
export * as autograd from './autograd/index.js';
/** Layer 4: `Module` with PyTorch's parameter and buffer names, the layers, initialisers and state-dict files. */
export * as nn from './nn/index.js';
/** Layer 5: the model zoo, each model with PyTorch-compatible names. */
export * as models from './models/index.js';
/** Layer 6: dataset readers, transforms, the seeded loader, the mask subset and downloads. */
export * as data from './data/index.js';
/** Layer 7: the pruning criteria registry, masks, schedules, the BN warm-up, layer-collapse diagnostics and the score cache. */
export * as prune from './prune/index.js';
/** Layer 8: optimisers, learning-rate schedules, mask enforcement, metrics, checkpoints and the trainer. */
export * as train from './train/index.js';
/** ONNX export, the sparse safetensors artifact, and reading a model back from pai's output folders. */
export * as interop from './export/index.js';
/** Layer 9: experiment configs, the grid runner, the result store, reports, shards and job files, and the demo. */
export * as experiment from './experiment/index.js';

export { Tensor, Generator, saveTensors, loadTensors, OptionsError } from './tensor/index.js';
export { grad, backward, hvp, noGrad } from './autograd/index.js';
export { createModel, listModels, importOnnx } from './models/index.js';
export { scoreParameters, makeMasks, applyMasks, pruneAtInit } from './prune/index.js';
export { trainModel, evaluate } from './train/index.js';
