import type { ActDType } from '../core/dtype.js';
import type { Rng } from '../core/random.js';
import type { GpuContext } from '../gpu/context.js';
import type { DeviceInfo } from '../gpu/device-info.js';
import type { AnyKernelSpec, HostTensors } from './spec.js';

/**
 * A check of a kernel's outputs on the GPU beyond the CPU reference: e.g. that a kernel's fused
 * variant writes bit for bit what the separate kernel writes from the same values. Returns what
 * is wrong, or undefined.
 */
export type CrossCheck = (ctx: GpuContext, got: HostTensors, shape: unknown) => Promise<string | undefined>;

/**
 * One kernel's conformance cases (conformance.ts gathers the families of every kernel module):
 * fixed awkward shapes, random shapes, and the small shape on which every config of the space is
 * swept, per activation dtype.
 */
export interface ConformanceFamily<Shape = unknown> {
  spec: AnyKernelSpec;
  fixed: (act: ActDType) => { label: string; shape: Shape }[];
  random: (act: ActDType, rng: Rng) => Shape;
  /** small shape used to sweep every config */
  small: (act: ActDType) => Shape;
  /** optional: awkward shapes run with a given config (paths that no default takes at a small shape, e.g. split-K) */
  configured?: (act: ActDType, dev: DeviceInfo) => { label: string; shape: Shape; config: unknown }[];
  crossCheck?: CrossCheck;
}
