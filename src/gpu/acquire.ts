import type { AdapterOptions, Platform } from '../core/platform.js';
import { createGpuContext, type DeviceOptions, type GpuContext } from './context.js';

/** Adapter from the platform, then a device with every useful feature: the usual way in. */
export async function acquireGpu(platform: Platform, opts: AdapterOptions & DeviceOptions = {}): Promise<GpuContext> {
  const acquired = await platform.requestAdapter(opts);
  return createGpuContext(acquired, opts);
}
