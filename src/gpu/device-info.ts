/**
 * What an adapter/device can do, read once at device creation, plus a stable key that names
 * the adapter for the tune cache (same GPU + same runtime => same key across restarts).
 */

export interface SubgroupMatrixConfig {
  componentType: string; // 'f16' | 'f32' | 'i8' | 'u8' | ...
  resultComponentType: string;
  M: number;
  N: number;
  K: number;
}

export interface DeviceFeatures {
  /** `shader-f16`: f16 arithmetic and storage in WGSL, so the f16 activation path */
  f16: boolean;
  subgroups: boolean;
  timestampQuery: boolean;
  /** `chromium-experimental-subgroup-matrix`: tensor-core style matrix ops from WGSL */
  subgroupMatrix: boolean;
  /** WGSL language feature `packed_4x8_integer_dot_product` (dot4I8Packed, pack4xI8): int8 dot products */
  packedDot: boolean;
}

export interface DeviceLimits {
  maxComputeInvocationsPerWorkgroup: number;
  maxComputeWorkgroupSizeX: number;
  maxComputeWorkgroupSizeY: number;
  maxComputeWorkgroupStorageSize: number;
  maxComputeWorkgroupsPerDimension: number;
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
  maxStorageBuffersPerShaderStage: number;
  minStorageBufferOffsetAlignment: number;
}

export interface DeviceInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** Dawn package version in Node, browser product/version in a page */
  runtime: string;
  isFallbackAdapter: boolean;
  features: DeviceFeatures;
  subgroupMinSize: number;
  subgroupMaxSize: number;
  subgroupMatrixConfigs: SubgroupMatrixConfig[];
  limits: DeviceLimits;
  /** vendor|architecture|device|description|runtime: the tune cache's adapter identity */
  adapterKey: string;
}

export const OPTIONAL_FEATURES = [
  'shader-f16',
  'subgroups',
  'timestamp-query',
  'chromium-experimental-subgroup-matrix',
] as const;

/** Limits that matter to compute kernels; each is requested at the adapter's maximum. */
export const REQUESTED_LIMITS: readonly (keyof DeviceLimits)[] = [
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupStorageSize',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxStorageBuffersPerShaderStage',
];

function readSubgroupMatrixConfigs(info: GPUAdapterInfo): SubgroupMatrixConfig[] {
  const raw = (info as unknown as { subgroupMatrixConfigs?: unknown }).subgroupMatrixConfigs;
  if (!Array.isArray(raw)) return [];
  return raw.map((c: Record<string, unknown>) => ({
    componentType: String(c.componentType),
    resultComponentType: String(c.resultComponentType),
    M: Number(c.M),
    N: Number(c.N),
    K: Number(c.K),
  }));
}

export function describeDevice(adapter: GPUAdapter, device: GPUDevice, runtime: string, wgslFeatures: ReadonlySet<string> = new Set()): DeviceInfo {
  const info = adapter.info;
  const has = (f: string) => device.features.has(f);
  const limits = {} as DeviceLimits;
  for (const k of [...REQUESTED_LIMITS, 'minStorageBufferOffsetAlignment'] as (keyof DeviceLimits)[]) {
    limits[k] = Number((device.limits as unknown as Record<string, number>)[k]);
  }
  const extra = info as unknown as { subgroupMinSize?: number; subgroupMaxSize?: number; isFallbackAdapter?: boolean };
  const vendor = info.vendor || 'unknown';
  const architecture = info.architecture || 'unknown';
  const deviceName = info.device || 'unknown';
  const description = info.description || '';
  return {
    vendor,
    architecture,
    device: deviceName,
    description,
    runtime,
    isFallbackAdapter: Boolean(extra.isFallbackAdapter),
    features: {
      f16: has('shader-f16'),
      subgroups: has('subgroups'),
      timestampQuery: has('timestamp-query'),
      subgroupMatrix: has('chromium-experimental-subgroup-matrix'),
      packedDot: wgslFeatures.has('packed_4x8_integer_dot_product'),
    },
    subgroupMinSize: extra.subgroupMinSize ?? 0,
    subgroupMaxSize: extra.subgroupMaxSize ?? 0,
    subgroupMatrixConfigs: has('chromium-experimental-subgroup-matrix') ? readSubgroupMatrixConfigs(info) : [],
    limits,
    adapterKey: [vendor, architecture, deviceName, description, runtime].join('|'),
  };
}
