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
  return (await compileKernelPrograms(ctx, spec, shape, cfg))[0];
}

/** The pipeline of the program's entry point, and of its `then` entry point where it has one. */
async function compileKernelPrograms<S, C>(ctx: GpuContext, spec: KernelSpec<S, C>, shape: S, cfg: C): Promise<[CachedPipeline, CachedPipeline?]> {
  const reasons = spec.supports(shape, ctx.info);
  if (reasons.length) {
    throw new WgllmError('unsupported', `${spec.id} cannot run this shape on this adapter: ${reasons.join('; ')}`);
  }
  const program = spec.build(shape, cfg, ctx.info);
  const request = (entryPoint: string) => ({
    source: program.source,
    entryPoint,
    constants: program.constants,
    bindings: spec.bindings(shape).map(({ binding, kind }) => ({ binding, kind })),
    label: spec.id,
  });
  const first = await ctx.pipelines.get(request(program.entryPoint));
  return program.then ? [first, await ctx.pipelines.get(request(program.then))] : [first];
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
  /** the uniform words as last written to the GPU (a step whose values did not change writes nothing) */
  private readonly written: Uint32Array;
  private readonly words: Uint32Array; // uniformData's words
  private hasWritten = false;
  private grid: [number, number, number] = [0, 0, 0];
  private thenGrid: [number, number, number] = [0, 0, 0];

  private constructor(
    private readonly ctx: GpuContext,
    readonly spec: KernelSpec<S, C>,
    readonly cfg: C,
    private readonly pipeline: GPUComputePipeline,
    private readonly thenPipeline: GPUComputePipeline | undefined,
    private readonly bindGroups: GPUBindGroup[],
    private readonly uniformBuffer: GPUBuffer,
    /** scratch bindings (allocated here, shared by the members, which run one after another) and their sizes */
    private readonly scratch: Record<string, { buffer: GPUBuffer; bytes: number }>,
  ) {
    this.uniformData = new ArrayBuffer(uniformByteSize(spec.uniforms));
    this.words = new Uint32Array(this.uniformData);
    this.written = new Uint32Array(this.words.length);
  }

  static async create<S, C>(
    ctx: GpuContext,
    spec: KernelSpec<S, C>,
    shape: S,
    cfg: C,
    members: readonly Readonly<Record<string, GPUBuffer | BufferBinding>>[],
    label = spec.id,
  ): Promise<KernelGroup<S, C>> {
    const [cached, then] = await compileKernelPrograms(ctx, spec, shape, cfg);
    const uniformBuffer = createBuffer(ctx, uniformByteSize(spec.uniforms), `${label}:params`, GPUBufferUsageConst.UNIFORM | GPUBufferUsageConst.COPY_DST);
    const decls = spec.bindings(shape);
    const needs = spec.scratchBytes?.(shape, cfg) ?? {};
    const scratch: Record<string, { buffer: GPUBuffer; bytes: number }> = {};
    for (const b of decls.filter((d) => d.scratch)) {
      const bytes = needs[b.name] ?? 0;
      scratch[b.name] = { buffer: createBuffer(ctx, Math.max(4, bytes), `${label}:${b.name}`), bytes };
    }
    const bindGroups = members.map((buffers, i) =>
      createBindGroup(
        ctx,
        cached.layout,
        decls.map((b) => {
          if (b.kind === 'uniform') return { binding: b.binding, resource: uniformBuffer };
          if (b.scratch) return { binding: b.binding, resource: scratch[b.name]!.buffer };
          const buf = buffers[b.name];
          if (!buf) throw new WgllmError('invalid_argument', `${label}[${i}]: no buffer given for binding '${b.name}'`);
          return { binding: b.binding, resource: buf };
        }),
        `${label}[${i}]`,
      ),
    );
    const g = new KernelGroup(ctx, spec, cfg, cached.pipeline, then?.pipeline, bindGroups, uniformBuffer, scratch);
    g.setShape(shape);
    return g;
  }

  setShape(shape: S): void {
    const needs = this.spec.scratchBytes?.(shape, this.cfg) ?? {};
    for (const [name, s] of Object.entries(this.scratch)) {
      if ((needs[name] ?? 0) > s.bytes) {
        throw new WgllmError('invalid_argument', `${this.spec.id}: this shape needs ${needs[name]} bytes of '${name}', the group was built for ${s.bytes}: create it for the largest shape it will run`);
      }
    }
    const launch = this.spec.dispatch(shape, this.cfg, this.ctx.info);
    packUniforms(this.spec.uniforms, launch.uniforms, this.uniformData);
    // Decode steps at a steady batch set the same sizes every step: skip their writes (each is a
    // call into the WebGPU implementation, and a step sets ~20 groups' shapes).
    if (this.uniformsChanged()) {
      this.ctx.queue.writeBuffer(this.uniformBuffer, 0, this.uniformData);
      this.written.set(this.words);
      this.hasWritten = true;
    }
    this.grid = launch.grid;
    if (this.thenPipeline && !launch.thenGrid) throw new WgllmError('internal', `${this.spec.id}: the program has a second entry point but dispatch() gave no thenGrid`);
    this.thenGrid = launch.thenGrid ?? [0, 0, 0];
  }

  private uniformsChanged(): boolean {
    if (!this.hasWritten) return true;
    for (let i = 0; i < this.words.length; i++) if (this.words[i] !== this.written[i]) return true;
    return false;
  }

  encode(pass: GPUComputePassEncoder, member = 0): void {
    const [x, y, z] = this.grid;
    if (x === 0 || y === 0 || z === 0) return;
    pass.setPipeline(this.pipeline);
    pass.setBindGroup(0, this.bindGroups[member]!);
    pass.dispatchWorkgroups(x, y, z);
    if (this.thenPipeline) {
      pass.setPipeline(this.thenPipeline);
      pass.dispatchWorkgroups(...this.thenGrid);
    }
  }

  destroy(): void {
    this.uniformBuffer.destroy();
    for (const s of Object.values(this.scratch)) s.buffer.destroy();
  }
}
