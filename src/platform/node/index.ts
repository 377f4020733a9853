import type { AdapterOptions, Platform } from '../../core/platform.js';
import { requestNodeAdapter } from './gpu.js';

export { DAWN_TOGGLES, noAdapterMessage, requestNodeAdapter } from './gpu.js';

/** The Node platform: Dawn for the GPU, the file system for models and caches. */
export function createNodePlatform(defaults: AdapterOptions = {}): Platform {
  return {
    name: 'node',
    requestAdapter: (opts) => requestNodeAdapter({ ...defaults, ...opts }),
  };
}
