export { importOnnx, type OnnxImportOptions, ONNX_MODEL_PREFIX, onnxModelName, onnxPathOf } from './import.js';
export { OnnxModel, type OnnxModelSpec } from './model.js';
export { OnnxImportError } from './value.js';
export { supportedOnnxOps } from './registry.js';
export { MIN_OPSET as ONNX_MIN_OPSET, MAX_OPSET as ONNX_MAX_OPSET } from './proto.js';
