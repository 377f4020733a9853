export * from './types.js';
export * from './metadata.js';
export * from './split-plan.js';
export * from './paged-kv-cache.js';
export * from './wgsl-backend.js';
export * from './cpu-backend.js';
