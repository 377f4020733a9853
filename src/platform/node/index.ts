import type { AdapterOptions, Platform } from '../../core/platform.js';
import { requestNodeAdapter } from './gpu.js';
import { openLocalModel } from './model-location.js';
import { createNodeTuneStore } from './tune-store.js';

export { DAWN_TOGGLES, noAdapterMessage, requestNodeAdapter } from './gpu.js';
export { openFileSource, folderOpener } from './file-source.js';
export { openLocalModel } from './model-location.js';
export { createNodeTuneStore, NodeTuneStore, tuneCacheDir, wgllmCacheDir, type NodeTuneStoreOptions } from './tune-store.js';

/** The Node platform: Dawn for the GPU, the file system for models and caches. */
export function createNodePlatform(defaults: AdapterOptions = {}): Platform {
  return {
    name: 'node',
    requestAdapter: (opts) => requestNodeAdapter({ ...defaults, ...opts }),
    openModel: openLocalModel,
    // JSON files under the user cache dir ($WGLLM_CACHE_DIR/tune overrides); nothing is touched until used
    tuneStore: createNodeTuneStore(),
  };
}
