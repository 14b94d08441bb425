export * from './dataset.js';
export * from './registry.js';
export * from './download.js';
export * from './loader.js';
export * from './subset.js';
/** Image transforms (to float, normalise, pad, crop, flip, resize) and the transform specs the loader compiles. */
export * as transforms from './transforms.js';
export { standardTransform } from './transforms.js';
export { loadTensorDataset, type TensorDataset, type TensorDatasetOptions } from './readers/tensorfile.js';
