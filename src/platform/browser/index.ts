import { WgllmError } from '../../core/errors.js';
import type { AcquiredAdapter, AdapterOptions, Platform } from '../../core/platform.js';
import { openUrlModel, type OpenUrlOptions } from './open-model.js';
import { createBrowserTuneStore } from './tune-store.js';

export { BrowserTuneStore, createBrowserTuneStore, type BrowserTuneStoreOptions } from './tune-store.js';
export { blobSource, pickedFilesModel, relativePathOf } from './file-source.js';
export { httpSource } from './http-source.js';
export { BrowserModelCache, formatBytes, isQuotaError, type CachedModelFile, type DownloadProgress, type StorageUsage } from './model-cache.js';
export { openUrlFile, openUrlModel, resolveModelUrl, type DownloadEvent, type OpenUrlOptions, type ResolvedModelUrl } from './open-model.js';

function browserRuntime(): string {
  const nav = globalThis.navigator as Navigator & { userAgentData?: { brands?: { brand: string; version: string }[] } };
  const brand = nav.userAgentData?.brands?.find((b) => !/Not.A.Brand/i.test(b.brand));
  if (brand) return `${brand.brand}/${brand.version}`;
  const m = /(Chrome|Chromium|Firefox|Version)\/([\d.]+)/.exec(nav.userAgent);
  return m ? `${m[1]}/${m[2]}` : 'browser';
}

export async function requestBrowserAdapter(opts: AdapterOptions = {}): Promise<AcquiredAdapter> {
  const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
  if (!gpu) {
    throw new WgllmError(
      'no_webgpu',
      'This browser does not expose WebGPU. Use a recent Chrome, Edge or Safari (or Firefox with WebGPU enabled), ' +
        'over https or on localhost.',
    );
  }
  const adapter = await gpu.requestAdapter({ powerPreference: opts.powerPreference ?? 'high-performance' });
  if (!adapter) {
    throw new WgllmError(
      'no_adapter',
      'WebGPU is present but no GPU adapter is available. Check that hardware acceleration is on in the browser ' +
        'settings and that the GPU driver is not blocklisted (chrome://gpu).',
    );
  }
  return { adapter, runtime: browserRuntime(), wgslFeatures: new Set(gpu.wgslLanguageFeatures ?? []) };
}

export interface BrowserPlatformOptions extends AdapterOptions {
  /** how `openModel(url)` fetches: the model cache (default), or range requests with `cache: false` */
  models?: OpenUrlOptions;
}

/**
 * The browser platform: navigator.gpu for the GPU, URLs (cached in the Cache API) for models,
 * IndexedDB for tune results. Works in pages and in Web Workers.
 */
export function createBrowserPlatform(opts: BrowserPlatformOptions = {}): Platform {
  const { models, ...defaults } = opts;
  return {
    name: 'browser',
    requestAdapter: (o) => requestBrowserAdapter({ ...defaults, ...o }),
    openModel: (ref) => openUrlModel(ref, models),
    // IndexedDB, opened on first use
    tuneStore: createBrowserTuneStore(),
  };
}
