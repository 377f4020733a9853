import type { DeviceInfo } from '../gpu/device-info.js';
import type { AnyKernelSpec } from '../kernels/spec.js';
import { WGLLM_VERSION } from '../version.js';
import { fastHash, stableJson } from './hash.js';

/**
 * Version of the tune file format and of what a key means. Bump it when the entry layout, the
 * hash function or the way keys are computed changes: older files are then ignored and rebuilt.
 */
export const TUNE_SCHEMA = 1;

/** The adapter part of a key: what names the physical GPU (the runtime is kept apart). */
export interface AdapterIdentity {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
}

/**
 * Everything a tuned result depends on (triton-dejavu's rule): an entry is reused only when
 * every field matches. Stored in full in each entry, so an exported table applies only to the
 * GPU, runtime, engine version and kernel sources it was measured with.
 */
export interface TuneKey {
  schema: number;
  engine: string;
  adapter: AdapterIdentity;
  /** Dawn package version in Node, browser product/version in a page */
  runtime: string;
  kernel: string;
  /** fastHash of the kernel's WGSL sources */
  source: string;
  /** fastHash of the stable JSON of space(shape, device) */
  space: string;
  /** spec.problemKey(shape): dtypes + shape bucket */
  problem: string;
}

export function adapterIdentity(dev: Pick<DeviceInfo, 'vendor' | 'architecture' | 'device' | 'description'>): AdapterIdentity {
  return { vendor: dev.vendor, architecture: dev.architecture, device: dev.device, description: dev.description };
}

/** One canonical string per key, for in-memory maps (JSON of the fields in a fixed order). */
export function keyString(k: TuneKey): string {
  const a = k.adapter;
  return JSON.stringify([k.schema, k.engine, a.vendor, a.architecture, a.device, a.description, k.runtime, k.kernel, k.source, k.space, k.problem]);
}

function slug(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40);
}

/**
 * The store key (file name in Node) of one adapter's table: readable, file-system safe, and
 * unique per adapter identity thanks to the hash. The runtime is not in it, so a Dawn or
 * browser upgrade keeps one file per GPU (its entries simply stop matching).
 */
export function adapterStoreKey(a: AdapterIdentity): string {
  const name = [slug(a.vendor), slug(a.device || a.architecture)].filter(Boolean).join('-') || 'adapter';
  // Only the four identity fields: callers may pass a whole DeviceInfo.
  return `${name}-${fastHash(stableJson(adapterIdentity(a))).slice(0, 10)}`;
}

// Hashing a spec's sources costs time proportional to the WGSL text; do it once per sources array.
const sourceHashes = new WeakMap<readonly string[], string>();

export function sourceHash(spec: AnyKernelSpec): string {
  let h = sourceHashes.get(spec.sources);
  if (h === undefined) {
    h = fastHash(spec.sources.join('\u0000'));
    sourceHashes.set(spec.sources, h);
  }
  return h;
}

export function spaceHash(space: readonly unknown[]): string {
  return fastHash(stableJson(space));
}

/** The full key of (spec, shape) on this device; `space` may be passed when already computed. */
export function tuneKey(dev: DeviceInfo, spec: AnyKernelSpec, shape: unknown, space?: readonly unknown[]): TuneKey {
  return {
    schema: TUNE_SCHEMA,
    engine: WGLLM_VERSION,
    adapter: adapterIdentity(dev),
    runtime: dev.runtime,
    kernel: spec.id,
    source: sourceHash(spec),
    space: spaceHash(space ?? spec.space(shape, dev)),
    problem: spec.problemKey(shape),
  };
}

/** The key of the resolved-config map: one config per (kernel, problem). */
export function configKey(kernel: string, problem: string): string {
  return `${kernel}|${problem}`;
}
