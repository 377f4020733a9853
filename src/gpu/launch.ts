import type { GpuContext } from './context.js';

export interface BufferBinding {
  buffer: GPUBuffer;
  offset?: number;
  size?: number;
}

/** A buffer for one numbered binding of group 0. */
export interface BoundBuffer {
  binding: number;
  resource: GPUBuffer | BufferBinding;
}

export function createBindGroup(
  ctx: GpuContext,
  layout: GPUBindGroupLayout,
  buffers: readonly BoundBuffer[],
  label?: string,
): GPUBindGroup {
  return ctx.device.createBindGroup({
    label,
    layout,
    entries: buffers.map(({ binding, resource }) => ({
      binding,
      resource: 'buffer' in resource ? resource : { buffer: resource },
    })),
  });
}
