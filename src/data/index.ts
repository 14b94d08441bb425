export * from './dataset.js';
export * from './registry.js';
export * from './download.js';
export * from './loader.js';
export * from './subset.js';
export * as transforms from './transforms.js';
export { standardTransform } from './transforms.js';
export { loadTensorDataset } from './readers/tensorfile.js';
