export * from './onnx.js';
export * from './onnx-rewrite.js';
export * from './sparse.js';
export * from './source.js';
