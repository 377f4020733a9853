import { WgllmError } from '../../core/errors.js';
import type { AcquiredAdapter, AdapterOptions, Platform } from '../../core/platform.js';
import { createBrowserTuneStore } from './tune-store.js';

export { BrowserTuneStore, createBrowserTuneStore, type BrowserTuneStoreOptions } from './tune-store.js';

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
  return { adapter, runtime: browserRuntime() };
}

/** The browser platform: navigator.gpu for the GPU. Works in pages and in Web Workers. */
export function createBrowserPlatform(defaults: AdapterOptions = {}): Platform {
  return {
    name: 'browser',
    requestAdapter: (opts) => requestBrowserAdapter({ ...defaults, ...opts }),
    // IndexedDB, opened on first use
    tuneStore: createBrowserTuneStore(),
  };
}
