export * from './common.js';
export * from './resnet_cifar.js';
export * from './vgg.js';
export * from './resnet_lth.js';
export * from './resnet_imagenet.js';
export * from './vit.js';
export * from './small.js';
export { createModel, listModels, countParameters, modelNames, type CreateOptions, type ModelInfo } from './registry.js';
export { importOnnx, OnnxModel, OnnxImportError, supportedOnnxOps, ONNX_MIN_OPSET, ONNX_MAX_OPSET, type OnnxImportOptions } from './onnx/index.js';
