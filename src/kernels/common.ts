import { roundAs, type ActDType } from '../core/dtype.js';
import { Rng } from '../core/random.js';
import type { DeviceInfo } from '../gpu/device-info.js';
import type { HostTensor } from './spec.js';

/** Power-of-two workgroup sizes from `min` to `max` that the device allows. */
export function workgroupSizes(dev: DeviceInfo, min = 32, max = 1024): number[] {
  const limit = Math.min(max, dev.limits.maxComputeInvocationsPerWorkgroup, dev.limits.maxComputeWorkgroupSizeX);
  const out: number[] = [];
  for (let s = min; s <= limit; s *= 2) out.push(s);
  return out;
}

/** Reasons an activation dtype cannot run here (f16 needs `shader-f16`). */
export function actSupport(act: ActDType, dev: DeviceInfo): string[] {
  return act === 'f16' && !dev.features.f16 ? ["f16 activations need the adapter feature 'shader-f16'"] : [];
}

/** A random activation tensor, values rounded to what `act` storage can hold. */
export function randomAct(rng: Rng, act: ActDType, shape: number[], scale = 1): HostTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const r = roundAs(act);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = r(rng.normal() * scale);
  return { dtype: act, shape, data };
}

export function zerosAct(act: ActDType, shape: number[]): HostTensor {
  return { dtype: act, shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) };
}

/** Shape bucket for tune keys: sizes rounded up to a power of two (>= 1). */
export function bucket(n: number): number {
  return 2 ** Math.ceil(Math.log2(Math.max(1, n)));
}
