export * from './rmsnorm.js';
export * from './rope.js';
export * from './elementwise.js';
