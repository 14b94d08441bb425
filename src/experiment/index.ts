export * from './config.js';
export * from './store.js';
export * from './shard.js';
export * from './runner.js';
export * from './report.js';
export * from './demo.js';
export * from './version.js';
export * from './stats.js';
