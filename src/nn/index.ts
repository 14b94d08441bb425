export { Module, StateDictError } from './module.js';
export * from './layers.js';
export * from './init.js';
export { saveStateDict, loadStateDictFile } from './serialize.js';
export * from './sparse.js';
