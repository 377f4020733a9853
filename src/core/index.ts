export * from './errors.js';
export * from './dtype.js';
export * from './random.js';
export * from './model-config.js';
export * from './platform.js';
export * from './hash.js';
