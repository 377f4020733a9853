import type { ActDType } from '../core/dtype.js';
import type { RopeStyle } from '../core/model-config.js';
import { WgllmError } from '../core/errors.js';
import type { GpuContext } from '../gpu/context.js';
import { createBuffer, writeBuffer } from '../gpu/buffers.js';
import { GPUBufferUsageConst } from '../gpu/constants.js';
import { createBindGroup, type BoundBuffer } from '../gpu/launch.js';
import type { CachedPipeline } from '../gpu/pipeline-cache.js';
import { packUniforms, uniformByteSize, type UniformLayout } from '../gpu/uniforms.js';
import { compileKernel } from '../kernels/launch.js';
import { pagedAttentionSpec, pagedAttentionSplitSpec } from '../kernels/attention.js';
import { attentionDecodeSpec, attentionDecodeSplitSpec, decodeLayout, type AttentionDecodeConfig } from '../kernels/attention-decode.js';
import { attentionReduceSpec, reduceGrid, REDUCE_UNIFORMS, type AttentionReduceConfig } from '../kernels/attention-reduce.js';
import { attentionTensorSpec, attentionTensorTq, type AttentionTensorConfig } from '../kernels/attention-tensor.js';
import {
  ATTN_UNIFORMS,
  attentionDefaultConfig,
  attentionGrid,
  type AttentionDims,
  type PagedAttentionConfig,
  type PagedAttentionShape,
} from '../kernels/attention-shape.js';
import { KV_WRITE_UNIFORMS, kvWriteGrid, kvWriteSpec, type KvWriteConfig } from '../kernels/kv-write.js';
import { ROPE_KV_WRITE_UNIFORMS, ropeKvWriteGrid, ropeKvWriteSpec, ropeKvWriteUniforms, type RopeKvWriteShape } from '../kernels/rope-kv-write.js';
import { MetadataBuilder } from './metadata.js';
import type { PagedKVCache } from './paged-kv-cache.js';
import { DEFAULT_SPLIT_POLICY, planSplits, type SplitPolicy } from './split-plan.js';
import type {
  AttentionBackend,
  AttentionLimits,
  AttentionMetadata,
  AttentionModelDims,
  ForwardOptions,
  StepBatch,
} from './types.js';

/** A view of per-token rows in an activation buffer; offset and stride in elements (multiples of 4). */
export interface GpuActView {
  buffer: GPUBuffer;
  offset: number;
  tokenStride: number;
}

export interface GpuAttentionIO {
  /** (t, h, :) at offset + t * tokenStride + h * headDim, act dtype (post-RoPE) */
  q: GpuActView;
  /** this step's keys (post-RoPE), [numTokens, numKvHeads, headDim] through the view */
  k: GpuActView;
  v: GpuActView;
  /** [maxNumTokens, numHeads, headDim] act dtype; must not alias q/k/v */
  out: GPUBuffer;
}

/** q, k, v views of a fused qkv buffer [numTokens, (numHeads + 2 * numKvHeads) * headDim]. */
export function fusedQkvViews(buffer: GPUBuffer, d: Pick<AttentionModelDims, 'numHeads' | 'numKvHeads' | 'headDim'>) {
  const tokenStride = (d.numHeads + 2 * d.numKvHeads) * d.headDim;
  return {
    q: { buffer, offset: 0, tokenStride },
    k: { buffer, offset: d.numHeads * d.headDim, tokenStride },
    v: { buffer, offset: (d.numHeads + d.numKvHeads) * d.headDim, tokenStride },
  };
}

export interface WgslAttentionConfigs {
  /** tiles for decode-only steps */
  decode: PagedAttentionConfig;
  /** tiles for steps with prefill chunks */
  prefill: PagedAttentionConfig;
  /** tiles of the split-KV pass */
  split: PagedAttentionConfig;
  /** the subgroup decode kernel's config (decode-only steps); null: use the tiled kernel for them */
  decodeVec: AttentionDecodeConfig | null;
  /** the tensor-core kernel's config (unsplit steps with prompt chunks); null: the tiled kernel */
  prefillTensor: AttentionTensorConfig | null;
  kvWrite: KvWriteConfig;
  reduce: AttentionReduceConfig;
}

/**
 * RoPE applied by the KV write (shaders/rope-kv-write.wgsl: q and k rotated in place, the rotated
 * k and v stored to the cache, in one pass), so that the model runs no rope pass of its own. Needs
 * every layer's q, k and v as the views of one fused qkv buffer (fusedQkvViews).
 */
export interface AttentionRope {
  style: RopeStyle;
  rotaryDim: number;
  /** rows of the cos/sin table */
  numPositions: number;
  /** [maxNumTokens] u32: each token's position, written by the caller every step */
  positions: GPUBuffer;
  /** [numPositions, rotaryDim / 2, 2] f32 (core/reference/rope.ts) */
  cosSin: GPUBuffer;
}

export interface WgslAttentionOptions {
  dims: AttentionModelDims & { act: ActDType };
  cache: PagedKVCache;
  limits: AttentionLimits;
  /** tuned configs (from the tune cache); defaults are the specs' heuristics */
  configs?: Partial<WgslAttentionConfigs>;
  split?: Partial<SplitPolicy>;
  /** apply RoPE in the KV write; taken where the fused kernel supports the shape (see `appliesRope`) */
  rope?: AttentionRope;
}

export interface WgslLayerBinding {
  readonly layer: number;
  readonly kvWrite: GPUBindGroup;
  readonly direct: GPUBindGroup;
  readonly split: GPUBindGroup;
  readonly reduce: GPUBindGroup;
  readonly decodeVec?: { direct: GPUBindGroup; split: GPUBindGroup };
  readonly prefillTensor?: GPUBindGroup;
}

// One uniform buffer for the whole backend (shared by all layers: the per-step values are the
// same), one 256-byte region per kernel: a step writes it with one writeBuffer.
const REGION = 256;
const U_KVW = 0;
const U_DIRECT = REGION;
const U_SPLIT = 2 * REGION;
const U_REDUCE = 3 * REGION;

interface Pipelines {
  kvWrite: CachedPipeline;
  decode: CachedPipeline;
  prefill: CachedPipeline;
  split: CachedPipeline;
  reduce: CachedPipeline;
  decodeVec?: { direct: CachedPipeline; split: CachedPipeline };
  prefillTensor?: CachedPipeline;
}

/**
 * The default attention backend: KV write + paged attention in WGSL, with a split-KV path for
 * long contexts with few sequences. Pipelines are compiled at create(); bind groups at
 * bindLayer(); a step then costs a few writeBuffers (buildMetadata) and 2-3 dispatches per layer.
 */
export class WgslAttentionBackend implements AttentionBackend<GPUComputePassEncoder, GpuAttentionIO, WgslLayerBinding> {
  readonly name = 'wgsl';
  readonly capabilities = { writesKv: true, mixedBatches: true, splitKv: true };
  readonly builder: MetadataBuilder;
  private readonly uniformData = new Uint8Array(4 * REGION);
  private readonly region = new ArrayBuffer(REGION);
  private readonly uniforms: GPUBuffer;
  private readonly meta: { queryStartLoc: GPUBuffer; seqLens: GPUBuffer; blockTables: GPUBuffer; slotMapping: GPUBuffer };
  private readonly partials: { out: GPUBuffer; ml: GPUBuffer };
  /** q/k/v views' offsets and strides (elements), the same for every bound layer */
  private views: { q: [number, number]; k: [number, number]; v: [number, number] } | undefined;
  private grids = { kvWrite: [0, 0, 0], attn: [0, 0, 0], reduce: [0, 0, 0] } as Record<'kvWrite' | 'attn' | 'reduce', [number, number, number]>;
  /** the decode kernel's keys per iteration as a split-planning tile (undefined: no decode kernel) */
  private readonly decodeTile: { tq: number; tk: number } | undefined;
  /** the KV write also rotates q and k (WgslAttentionOptions.rope, where supported) */
  readonly appliesRope: boolean;

  private constructor(
    private readonly ctx: GpuContext,
    readonly dims: AttentionDims & { scale: number; softcap: number; slidingWindow: number },
    readonly cache: PagedKVCache,
    readonly configs: WgslAttentionConfigs,
    readonly splitPolicy: SplitPolicy,
    private readonly pipelines: Pipelines,
    limits: AttentionLimits,
    private readonly rope: { binding: AttentionRope; shape: Omit<RopeKvWriteShape, 'numTokens'> } | undefined,
  ) {
    this.appliesRope = rope !== undefined;
    this.builder = new MetadataBuilder(limits, cache.blockSize, cache.numBlocks);
    if (configs.decodeVec) this.decodeTile = { tq: 1, tk: decodeLayout(dims, configs.decodeVec, ctx.info.subgroupMaxSize).kpi };
    const label = 'attention';
    this.uniforms = createBuffer(ctx, 4 * REGION, `${label}:params`, GPUBufferUsageConst.UNIFORM | GPUBufferUsageConst.COPY_DST);
    this.meta = {
      queryStartLoc: createBuffer(ctx, 4 * (limits.maxNumSeqs + 1), `${label}:queryStartLoc`), // [maxNumSeqs + 1] u32
      seqLens: createBuffer(ctx, 4 * limits.maxNumSeqs, `${label}:seqLens`), // [maxNumSeqs] u32
      blockTables: createBuffer(ctx, 4 * limits.maxNumSeqs * limits.maxBlocksPerSeq, `${label}:blockTables`), // [maxNumSeqs, maxBlocksPerSeq] u32
      slotMapping: createBuffer(ctx, 4 * limits.maxNumTokens, `${label}:slotMapping`), // [maxNumTokens] i32
    };
    const rows = splitPolicy.enabled ? splitPolicy.maxSplits * splitPolicy.maxTokens * dims.numHeads : 1;
    this.partials = {
      out: createBuffer(ctx, 4 * rows * dims.headDim, `${label}:partOut`), // [maxSplits, maxTokens, numHeads, headDim] f32
      ml: createBuffer(ctx, 8 * rows, `${label}:partMl`), // [maxSplits, maxTokens, numHeads, 2] f32
    };
  }

  static async create(ctx: GpuContext, o: WgslAttentionOptions): Promise<WgslAttentionBackend> {
    const d = o.dims;
    const dims = {
      act: d.act,
      kv: o.cache.dtype,
      numHeads: d.numHeads,
      numKvHeads: d.numKvHeads,
      headDim: d.headDim,
      blockSize: o.cache.blockSize,
      scale: d.scale ?? 1 / Math.sqrt(d.headDim),
      softcap: d.softcap ?? 0,
      slidingWindow: d.slidingWindow ?? 0,
    };
    if (o.cache.numKvHeads !== d.numKvHeads || o.cache.headDim !== d.headDim) {
      throw new WgllmError('invalid_argument', 'attention dims do not match the KV cache (numKvHeads / headDim)');
    }
    const lim = o.limits;
    if (lim.maxNumTokens + lim.maxNumSeqs > ctx.info.limits.maxComputeWorkgroupsPerDimension) {
      throw new WgllmError('invalid_argument', `maxNumTokens ${lim.maxNumTokens} is over this adapter's grid limit`);
    }
    const split = { ...DEFAULT_SPLIT_POLICY, maxTokens: Math.min(DEFAULT_SPLIT_POLICY.maxTokens, lim.maxNumTokens), ...o.split };
    const configs: WgslAttentionConfigs = {
      decode: attentionDefaultConfig(dims, 1, ctx.info),
      decodeVec: null,
      prefillTensor: null,
      prefill: attentionDefaultConfig(dims, 1 << 20, ctx.info),
      split: attentionDefaultConfig(dims, 1, ctx.info),
      kvWrite: kvWriteSpec.defaultConfig(undefined as never, ctx.info),
      reduce: attentionReduceSpec.defaultConfig(undefined as never, ctx.info),
      ...o.configs,
    };
    const shape: PagedAttentionShape = { ...dims, seqs: [{ queryLen: 1, seqLen: 1 }], fusedQkv: false };
    // The subgroup decode kernel where the adapter runs it (subgroups of a fixed size), unless
    // the caller said null; configs.decodeVec is undefined -> its default.
    const vecOk = attentionDecodeSpec.supports(shape, ctx.info).length === 0;
    if (o.configs?.decodeVec === undefined) configs.decodeVec = vecOk ? attentionDecodeSpec.defaultConfig(shape, ctx.info) : null;
    else if (!vecOk) configs.decodeVec = null;
    const vecCfg = configs.decodeVec;
    // Likewise the tensor-core kernel for steps with prompt chunks.
    const tensorOk = attentionTensorSpec.supports(shape, ctx.info).length === 0;
    if (o.configs?.prefillTensor === undefined) configs.prefillTensor = tensorOk ? attentionTensorSpec.defaultConfig(shape, ctx.info) : null;
    else if (!tensorOk) configs.prefillTensor = null;
    const tensorCfg = configs.prefillTensor;
    const kvShape = { ...dims, numTokens: 1, numBlocks: o.cache.numBlocks };
    const ropeShape = o.rope ? { ...kvShape, style: o.rope.style, rotaryDim: o.rope.rotaryDim, numPositions: o.rope.numPositions } : undefined;
    const rope = ropeShape && ropeKvWriteSpec.supports(ropeShape, ctx.info).length === 0 ? { binding: o.rope!, shape: ropeShape } : undefined;
    const [kvWrite, decode, prefill, splitP, reduce] = await Promise.all([
      rope ? compileKernel(ctx, ropeKvWriteSpec, rope.shape, configs.kvWrite) : compileKernel(ctx, kvWriteSpec, { ...kvShape, fusedQkv: false }, configs.kvWrite),
      compileKernel(ctx, pagedAttentionSpec, shape, configs.decode),
      compileKernel(ctx, pagedAttentionSpec, shape, configs.prefill),
      compileKernel(ctx, pagedAttentionSplitSpec, { ...shape, partitionSize: split.partitionSize }, configs.split),
      compileKernel(ctx, attentionReduceSpec, { act: dims.act, headDim: dims.headDim, numRows: 1, numSplits: 1 }, configs.reduce),
    ]);
    const decodeVec = vecCfg
      ? {
          direct: await compileKernel(ctx, attentionDecodeSpec, shape, vecCfg),
          split: await compileKernel(ctx, attentionDecodeSplitSpec, { ...shape, partitionSize: split.partitionSize }, vecCfg),
        }
      : undefined;
    const prefillTensor = tensorCfg ? await compileKernel(ctx, attentionTensorSpec, shape, tensorCfg) : undefined;
    return new WgslAttentionBackend(ctx, dims, o.cache, configs, split, { kvWrite, decode, prefill, split: splitP, reduce, decodeVec, prefillTensor }, lim, rope);
  }

  /** Bind groups for one layer's activations and cache; once per layer, at model load. */
  bindLayer(layer: number, io: GpuAttentionIO): WgslLayerBinding {
    const views = { q: [io.q.offset, io.q.tokenStride], k: [io.k.offset, io.k.tokenStride], v: [io.v.offset, io.v.tokenStride] } as const;
    for (const [n, [off, stride]] of Object.entries(views)) {
      if (off % 4 !== 0 || stride % 4 !== 0) throw new WgllmError('invalid_argument', `attention: ${n} view offset/stride must be multiples of 4 elements`);
    }
    if (this.views && JSON.stringify(this.views) !== JSON.stringify(views)) {
      throw new WgllmError('invalid_argument', 'attention: every layer must use the same q/k/v view offsets and strides (they share one uniform buffer)');
    }
    this.views = { q: [...views.q], k: [...views.k], v: [...views.v] };
    if (this.rope) {
      const fused = fusedQkvViews(io.q.buffer, this.dims);
      const same = (a: GpuActView, b: GpuActView) => a.buffer === b.buffer && a.offset === b.offset && a.tokenStride === b.tokenStride;
      if (!same(io.q, fused.q) || !same(io.k, fused.k) || !same(io.v, fused.v)) {
        throw new WgllmError('invalid_argument', 'attention: RoPE in the KV write needs q, k and v as the views of one fused qkv buffer (fusedQkvViews); leave `rope` out for separate buffers');
      }
    }
    const kv = this.cache.layer(layer);
    const m = this.meta;
    const u = (offset: number): BoundBuffer['resource'] => ({ buffer: this.uniforms, offset, size: REGION });
    const group = (p: CachedPipeline, entries: BoundBuffer[]) => createBindGroup(this.ctx, p.layout, entries, `attention:${layer}`);
    const common: BoundBuffer[] = [
      { binding: 0, resource: io.q.buffer },
      { binding: 1, resource: kv.k },
      { binding: 2, resource: kv.v },
      { binding: 3, resource: m.blockTables },
      { binding: 4, resource: m.queryStartLoc },
      { binding: 5, resource: m.seqLens },
    ];
    const dv = this.pipelines.decodeVec;
    const pt = this.pipelines.prefillTensor;
    return {
      layer,
      ...(pt ? { prefillTensor: group(pt, [...common, { binding: 6, resource: io.out }, { binding: 9, resource: u(U_DIRECT) }]) } : {}),
      ...(dv
        ? {
            decodeVec: {
              direct: group(dv.direct, [...common, { binding: 6, resource: io.out }, { binding: 9, resource: u(U_DIRECT) }]),
              split: group(dv.split, [...common, { binding: 7, resource: this.partials.out }, { binding: 8, resource: this.partials.ml }, { binding: 9, resource: u(U_SPLIT) }]),
            },
          }
        : {}),
      kvWrite: group(
        this.pipelines.kvWrite,
        this.rope
          ? [
              { binding: 0, resource: io.q.buffer },
              { binding: 1, resource: this.rope.binding.positions },
              { binding: 2, resource: this.rope.binding.cosSin },
              { binding: 3, resource: m.slotMapping },
              { binding: 4, resource: kv.k },
              { binding: 5, resource: kv.v },
              { binding: 6, resource: u(U_KVW) },
            ]
          : [
              { binding: 0, resource: io.k.buffer },
              { binding: 1, resource: io.v.buffer },
              { binding: 2, resource: m.slotMapping },
              { binding: 3, resource: kv.k },
              { binding: 4, resource: kv.v },
              { binding: 5, resource: u(U_KVW) },
            ],
      ),
      direct: group(this.pipelines.decode, [...common, { binding: 6, resource: io.out }, { binding: 9, resource: u(U_DIRECT) }]),
      split: group(this.pipelines.split, [
        ...common,
        { binding: 7, resource: this.partials.out },
        { binding: 8, resource: this.partials.ml },
        { binding: 9, resource: u(U_SPLIT) },
      ]),
      reduce: group(this.pipelines.reduce, [
        { binding: 0, resource: this.partials.out },
        { binding: 1, resource: this.partials.ml },
        { binding: 2, resource: io.out },
        { binding: 3, resource: u(U_REDUCE) },
      ]),
    };
  }

  /** Host metadata, the launch plan, and their upload (4 array writes + 1 uniform write). */
  buildMetadata(step: StepBatch): AttentionMetadata {
    if (!this.views) throw new WgllmError('invalid_argument', 'attention: bind at least one layer before building step metadata');
    const md = this.builder.build(step);
    const d = this.dims;
    const tiles = md.maxQueryLen <= 1 ? 'decode' : 'prefill';
    const vec = tiles === 'decode' ? this.decodeTile : undefined;
    // The decode kernel's grid is one workgroup per (sequence, kv head) per split.
    const sp = vec
      ? planSplits(this.splitPolicy, md, d.numKvHeads, vec, md.numSeqs * d.numKvHeads)
      : planSplits(this.splitPolicy, md, d.numKvHeads, this.configs.split);
    const tensor = tiles === 'prefill' && sp.numSplits === 1 ? this.configs.prefillTensor : null;
    md.plan = { tiles, kernel: vec ? 'decode' : tensor ? 'tensor' : 'tiled', ...sp };
    const c = sp.numSplits > 1 ? this.configs.split : this.configs[tiles];
    const maxPerDim = this.ctx.info.limits.maxComputeWorkgroupsPerDimension;
    const tq = tensor ? attentionTensorTq(d, tensor) : c.tq;
    const attnGrid: [number, number, number] = vec ? [md.numSeqs, d.numKvHeads, sp.numSplits] : attentionGrid(md.numTokens, md.numSeqs, d.numKvHeads, tq, sp.numSplits);
    this.grids = {
      kvWrite: this.rope
        ? ropeKvWriteGrid(md.numTokens, d, this.configs.kvWrite.wg, maxPerDim)
        : kvWriteGrid(md.numTokens, d.numKvHeads, d.headDim, this.configs.kvWrite.wg, maxPerDim),
      attn: md.numTokens === 0 ? [0, 0, 0] : attnGrid,
      reduce: reduceGrid(md.numTokens * d.numHeads, d.headDim, this.configs.reduce.wg, maxPerDim),
    };
    const v = this.views;
    const attn = {
      numTokens: md.numTokens,
      numSeqs: md.numSeqs,
      maxBlocksPerSeq: md.blockTableStride,
      numKvHeads: d.numKvHeads,
      qOffset: v.q[0] / 4,
      qStride: v.q[1] / 4,
      scale: d.scale,
      softcap: d.softcap,
      window: d.slidingWindow,
      partitionSize: sp.partitionSize,
    };
    const ud = this.uniformData;
    const pack = (layout: UniformLayout, values: Record<string, number>, at: number) => {
      ud.set(new Uint8Array(packUniforms(layout, values, this.region), 0, uniformByteSize(layout)), at);
    };
    if (this.rope) pack(ROPE_KV_WRITE_UNIFORMS, ropeKvWriteUniforms(md.numTokens, this.rope.shape), U_KVW);
    else pack(KV_WRITE_UNIFORMS, { numTokens: md.numTokens, numKvHeads: d.numKvHeads, kOffset: v.k[0] / 4, kStride: v.k[1] / 4, vOffset: v.v[0] / 4, vStride: v.v[1] / 4 }, U_KVW);
    pack(ATTN_UNIFORMS, attn, U_DIRECT);
    pack(ATTN_UNIFORMS, attn, U_SPLIT);
    pack(REDUCE_UNIFORMS, { numRows: md.numTokens * d.numHeads, numSplits: sp.numSplits }, U_REDUCE);
    const m = this.meta;
    writeBuffer(this.ctx, this.uniforms, 0, ud);
    if (md.numSeqs > 0) {
      writeBuffer(this.ctx, m.queryStartLoc, 0, md.queryStartLoc);
      writeBuffer(this.ctx, m.seqLens, 0, md.seqLens);
      writeBuffer(this.ctx, m.blockTables, 0, md.blockTables);
    }
    if (md.numTokens > 0) writeBuffer(this.ctx, m.slotMapping, 0, md.slotMapping);
    return md;
  }

  /**
   * KV write (with RoPE of q and k where `appliesRope`; skipKvWrite skips both), then attention
   * (direct, or split + reduce) for one layer. Encodes 2-3 dispatches.
   */
  forward(pass: GPUComputePassEncoder, b: WgslLayerBinding, md: AttentionMetadata, opts?: ForwardOptions): void {
    if (md.step !== this.builder.currentStep) {
      throw new WgllmError('invalid_argument', `attention: metadata of step ${md.step} used after step ${this.builder.currentStep} was built`);
    }
    if (md.numTokens === 0) return;
    const p = this.pipelines;
    const run = (pipe: CachedPipeline, group: GPUBindGroup, grid: [number, number, number]) => {
      pass.setPipeline(pipe.pipeline);
      pass.setBindGroup(0, group);
      pass.dispatchWorkgroups(grid[0], grid[1], grid[2]);
    };
    if (!opts?.skipKvWrite) run(p.kvWrite, b.kvWrite, this.grids.kvWrite);
    const vec = md.plan.kernel === 'decode' ? p.decodeVec : undefined;
    if (vec && b.decodeVec) {
      const split = md.plan.numSplits > 1;
      run(split ? vec.split : vec.direct, split ? b.decodeVec.split : b.decodeVec.direct, this.grids.attn);
      if (split) run(p.reduce, b.reduce, this.grids.reduce);
    } else if (md.plan.kernel === 'tensor') {
      // (the plan's grid is the tensor kernel's: no other kernel may run on it)
      if (!p.prefillTensor || !b.prefillTensor) throw new WgllmError('internal', 'attention: a tensor-kernel plan without its pipeline or bind group');
      run(p.prefillTensor, b.prefillTensor, this.grids.attn);
    } else if (md.plan.numSplits > 1) {
      run(p.split, b.split, this.grids.attn);
      run(p.reduce, b.reduce, this.grids.reduce);
    } else {
      run(md.plan.tiles === 'decode' ? p.decode : p.prefill, b.direct, this.grids.attn);
    }
  }

  dispose(): void {
    this.uniforms.destroy();
    for (const buf of Object.values(this.meta)) buf.destroy();
    this.partials.out.destroy();
    this.partials.ml.destroy();
  }
}
