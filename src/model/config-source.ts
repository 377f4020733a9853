import type { DeviceInfo } from '../gpu/device-info.js';
import type { KernelSpec } from '../kernels/spec.js';

/**
 * Where a model gets each kernel's config, resolved once at load: the tune cache's table
 * (src/tune KernelConfigs), or the kernels' own heuristics.
 */
export interface ConfigSource {
  get<S, C>(spec: KernelSpec<S, C>, shape: S): C | Promise<C>;
}

export function defaultConfigs(dev: DeviceInfo): ConfigSource {
  return { get: (spec, shape) => spec.defaultConfig(shape, dev) };
}
