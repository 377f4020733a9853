/**
 * wgllm: the runtime-neutral entry. Everything here runs in browsers, Web Workers and Node;
 * pick a platform from 'wgllm/node' or 'wgllm/browser' (or the entries that re-export this).
 */
export * from './core/index.js';
export * from './gpu/index.js';
export * from './kernels/index.js';
export * from './tune/index.js';
export * from './kv/index.js';
export * from './scheduler/index.js';
export * from './tokenizer/index.js';
export * from './attention/index.js';
export * from './model/index.js';
export * from './engine/index.js';
export { WGLLM_VERSION } from './version.js';
