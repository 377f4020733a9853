/** wgllm for Node: the runtime-neutral API plus Dawn-backed GPU access and file access. */
export * from './index.js';
export { createNodePlatform, requestNodeAdapter, noAdapterMessage, DAWN_TOGGLES, openLocalModel, openFileSource, folderOpener } from './platform/node/index.js';
export { createNodeTuneStore, NodeTuneStore, tuneCacheDir, wgllmCacheDir, type NodeTuneStoreOptions } from './platform/node/tune-store.js';
export { createServer, type ServerOptions, type WgllmServer } from './server/index.js';
export { resolveModelRef } from './platform/node/hf-hub.js';
