export * from './onnx.js';
export * from './sparse.js';
export * from './source.js';
