import type { GpuContext } from './context.js';
import type { CachedPipeline } from './pipeline-cache.js';

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

/**
 * A dispatch whose pipeline and bind group were built ahead of time: encoding it into a pass
 * costs three calls and allocates nothing, which is what a decode step needs.
 */
export class Dispatch {
  constructor(
    readonly pipeline: GPUComputePipeline,
    readonly bindGroup: GPUBindGroup,
    public grid: [number, number, number],
    readonly label = '',
  ) {}

  static create(
    ctx: GpuContext,
    cached: CachedPipeline,
    buffers: readonly BoundBuffer[],
    grid: [number, number, number],
    label?: string,
  ): Dispatch {
    return new Dispatch(cached.pipeline, createBindGroup(ctx, cached.layout, buffers, label), grid, label);
  }

  encode(pass: GPUComputePassEncoder): void {
    if (this.grid[0] === 0 || this.grid[1] === 0 || this.grid[2] === 0) return;
    pass.setPipeline(this.pipeline);
    pass.setBindGroup(0, this.bindGroup);
    pass.dispatchWorkgroups(this.grid[0], this.grid[1], this.grid[2]);
  }
}
