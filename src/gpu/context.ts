import { WgllmError } from '../core/errors.js';
import type { AcquiredAdapter } from '../core/platform.js';
import { describeDevice, OPTIONAL_FEATURES, REQUESTED_LIMITS, type DeviceInfo } from './device-info.js';
import { PipelineCache } from './pipeline-cache.js';

export interface DeviceOptions {
  /** leave out optional features (e.g. to test the f32 path on an f16-capable GPU) */
  disableFeatures?: string[];
  label?: string;
}

/**
 * A device plus everything that is scoped to it: its capabilities and its pipeline cache.
 * One engine owns one GpuContext; two models in one process never share pipelines.
 */
export class GpuContext {
  readonly device: GPUDevice;
  readonly queue: GPUQueue;
  readonly info: DeviceInfo;
  readonly pipelines: PipelineCache;
  private lostInfo: GPUDeviceLostInfo | undefined;
  private destroyed = false;

  constructor(device: GPUDevice, info: DeviceInfo) {
    this.device = device;
    this.queue = device.queue;
    this.info = info;
    this.pipelines = new PipelineCache(device);
    device.lost.then((lost) => {
      if (!this.destroyed) this.lostInfo = lost;
    });
  }

  /** Throws a device_lost error if the device is gone, so callers fail fast and clearly. */
  assertAlive(): void {
    if (this.lostInfo) {
      throw new WgllmError(
        'device_lost',
        `The GPU device was lost (${this.lostInfo.reason}: ${this.lostInfo.message}). ` +
          'Create a new engine to continue; GPU state from the old device cannot be reused.',
      );
    }
  }

  get isLost(): boolean {
    return this.lostInfo !== undefined;
  }

  destroy(): void {
    this.destroyed = true;
    this.device.destroy();
  }
}

/**
 * Requests a device with every useful optional feature the adapter has and the adapter's
 * maximum compute limits. Never fails for a missing optional feature: the kernels have paths
 * without each of them.
 */
export async function createGpuContext(acquired: AcquiredAdapter, opts: DeviceOptions = {}): Promise<GpuContext> {
  const { adapter, runtime } = acquired;
  const disabled = new Set(opts.disableFeatures ?? []);
  const requiredFeatures = OPTIONAL_FEATURES.filter((f) => adapter.features.has(f) && !disabled.has(f));
  const requiredLimits: Record<string, number> = {};
  for (const k of REQUESTED_LIMITS) {
    const v = (adapter.limits as unknown as Record<string, number>)[k];
    if (typeof v === 'number') requiredLimits[k] = v;
  }
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({
      label: opts.label ?? 'wgllm',
      requiredFeatures: requiredFeatures as GPUFeatureName[],
      requiredLimits,
    });
  } catch (cause) {
    throw new WgllmError(
      'device_request_failed',
      `The adapter refused to create a device (${String(cause)}). Try another adapter, or update the GPU driver.`,
      { cause },
    );
  }
  return new GpuContext(device, describeDevice(adapter, device, runtime, acquired.wgslFeatures));
}
