export { Tensor, allocate, dtypeOf, type GradFn } from './tensor.js';
export * from './create.js';
export * from './shape.js';
export { Generator } from './random.js';
export { saveTensors, loadTensors, SafetensorsError, type StDtype, type StEntry } from './safetensors.js';
export { OptionsError } from './options.js';
