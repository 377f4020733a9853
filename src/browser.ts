/** wgllm for browsers and Web Workers: the runtime-neutral API plus navigator.gpu access. */
export * from './index.js';
export { createBrowserPlatform, requestBrowserAdapter } from './platform/browser/index.js';
export { createBrowserTuneStore, BrowserTuneStore, type BrowserTuneStoreOptions } from './platform/browser/tune-store.js';
export * from './worker/index.js';
