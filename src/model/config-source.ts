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

/**
 * The kernels' defaults, and a list of every (kernel, shape) the model built: the workload that
 * `wgllm tune --model` tunes.
 */
export function recordingConfigs(dev: DeviceInfo) {
  const workload: { spec: KernelSpec<unknown, unknown>; shape: unknown }[] = [];
  return {
    workload,
    get<S, C>(spec: KernelSpec<S, C>, shape: S): C {
      workload.push({ spec: spec as KernelSpec<unknown, unknown>, shape });
      return spec.defaultConfig(shape, dev);
    },
  };
}
