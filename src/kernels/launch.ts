import type { GpuContext } from '../gpu/context.js';
import { createBuffer } from '../gpu/buffers.js';
import { GPUBufferUsageConst } from '../gpu/constants.js';
import { createBindGroup, type BufferBinding } from '../gpu/launch.js';
import type { CachedPipeline } from '../gpu/pipeline-cache.js';
import { packUniforms, uniformByteSize } from '../gpu/uniforms.js';
import { WgllmError } from '../core/errors.js';
import type { KernelSpec } from './spec.js';

/** Compiles (or fetches from the context's cache) the pipeline for one shape and config. */
export async function compileKernel<S, C>(ctx: GpuContext, spec: KernelSpec<S, C>, shape: S, cfg: C): Promise<CachedPipeline> {
  const reasons = spec.supports(shape, ctx.info);
  if (reasons.length) {
    throw new WgllmError('unsupported', `${spec.id} cannot run this shape on this adapter: ${reasons.join('; ')}`);
  }
  const program = spec.build(shape, cfg, ctx.info);
  return ctx.pipelines.get({
    source: program.source,
    entryPoint: program.entryPoint,
    constants: program.constants,
    bindings: spec.bindings(shape).map(({ binding, kind }) => ({ binding, kind })),
    label: spec.id,
  });
}

/**
 * One kernel bound to its buffers, with its own uniform buffer: built once (pipeline, bind
 * group), then `setShape` per step rewrites only the uniform values and the grid. A KernelGroup
 * of one member.
 */
export class KernelDispatch<S, C> {
  private constructor(private readonly group: KernelGroup<S, C>) {}

  /** `buffers` maps every non-uniform binding name of the spec to its buffer. */
  static async create<S, C>(
    ctx: GpuContext,
    spec: KernelSpec<S, C>,
    shape: S,
    cfg: C,
    buffers: Readonly<Record<string, GPUBuffer | BufferBinding>>,
  ): Promise<KernelDispatch<S, C>> {
    return new KernelDispatch(await KernelGroup.create(ctx, spec, shape, cfg, [buffers]));
  }

  get spec(): KernelSpec<S, C> {
    return this.group.spec;
  }

  get cfg(): C {
    return this.group.cfg;
  }

  /** Updates the per-launch sizes (uniform values and grid) for a new shape of the same program. */
  setShape(shape: S): void {
    this.group.setShape(shape);
  }

  encode(pass: GPUComputePassEncoder): void {
    this.group.encode(pass, 0);
  }

  destroy(): void {
    this.group.destroy();
  }
}

/**
 * One kernel program launched for several members (the layers of a model) that share their
 * per-step sizes: one pipeline, one uniform buffer and one grid for all, one bind group per
 * member. A step calls `setShape` once (one small writeBuffer) and `encode(pass, member)` per
 * layer, so the per-step CPU cost does not grow with the number of layers.
 */
export class KernelGroup<S, C> {
  private readonly uniformData: ArrayBuffer;
  private grid: [number, number, number] = [0, 0, 0];

  private constructor(
    private readonly ctx: GpuContext,
    readonly spec: KernelSpec<S, C>,
    readonly cfg: C,
    private readonly pipeline: GPUComputePipeline,
    private readonly bindGroups: GPUBindGroup[],
    private readonly uniformBuffer: GPUBuffer,
  ) {
    this.uniformData = new ArrayBuffer(uniformByteSize(spec.uniforms));
  }

  static async create<S, C>(
    ctx: GpuContext,
    spec: KernelSpec<S, C>,
    shape: S,
    cfg: C,
    members: readonly Readonly<Record<string, GPUBuffer | BufferBinding>>[],
    label = spec.id,
  ): Promise<KernelGroup<S, C>> {
    const cached = await compileKernel(ctx, spec, shape, cfg);
    const uniformBuffer = createBuffer(ctx, uniformByteSize(spec.uniforms), `${label}:params`, GPUBufferUsageConst.UNIFORM | GPUBufferUsageConst.COPY_DST);
    const decls = spec.bindings(shape);
    const bindGroups = members.map((buffers, i) =>
      createBindGroup(
        ctx,
        cached.layout,
        decls.map((b) => {
          if (b.kind === 'uniform') return { binding: b.binding, resource: uniformBuffer };
          const buf = buffers[b.name];
          if (!buf) throw new WgllmError('invalid_argument', `${label}[${i}]: no buffer given for binding '${b.name}'`);
          return { binding: b.binding, resource: buf };
        }),
        `${label}[${i}]`,
      ),
    );
    const g = new KernelGroup(ctx, spec, cfg, cached.pipeline, bindGroups, uniformBuffer);
    g.setShape(shape);
    return g;
  }

  setShape(shape: S): void {
    const launch = this.spec.dispatch(shape, this.cfg, this.ctx.info);
    packUniforms(this.spec.uniforms, launch.uniforms, this.uniformData);
    this.ctx.queue.writeBuffer(this.uniformBuffer, 0, this.uniformData);
    this.grid = launch.grid;
  }

  encode(pass: GPUComputePassEncoder, member = 0): void {
    const [x, y, z] = this.grid;
    if (x === 0 || y === 0 || z === 0) return;
    pass.setPipeline(this.pipeline);
    pass.setBindGroup(0, this.bindGroups[member]!);
    pass.dispatchWorkgroups(x, y, z);
  }

  destroy(): void {
    this.uniformBuffer.destroy();
  }
}
