import { roundAs, type ActDType } from '../core/dtype.js';
import { WgllmError } from '../core/errors.js';
import { kvWriteInto, pagedAttentionRef, type AttentionGeometry, type RowView } from '../core/reference/attention.js';
import type { KvDType } from '../kernels/attention-shape.js';
import { MetadataBuilder } from './metadata.js';
import type { AttentionBackend, AttentionLimits, AttentionMetadata, AttentionModelDims, ForwardOptions, StepBatch } from './types.js';

/** A paged KV cache in host memory, same layout as the GPU one: [numBlocks, numKvHeads, blockSize, headDim]. */
export class HostPagedKVCache {
  /** per layer: k, v [numBlocks, numKvHeads, blockSize, headDim], values rounded to `dtype` */
  readonly layers: { k: Float32Array; v: Float32Array }[];

  constructor(
    readonly numLayers: number,
    readonly numKvHeads: number,
    readonly headDim: number,
    readonly blockSize: number,
    readonly numBlocks: number,
    readonly dtype: KvDType,
  ) {
    const n = numBlocks * numKvHeads * blockSize * headDim;
    this.layers = Array.from({ length: numLayers }, () => ({ k: new Float32Array(n), v: new Float32Array(n) }));
  }
}

export interface HostAttentionIO {
  q: Float32Array;
  qView: RowView;
  k: Float32Array;
  kView: RowView;
  v: Float32Array;
  vView: RowView;
  /** [maxNumTokens, numHeads, headDim] */
  out: Float32Array;
}

export interface HostLayerBinding {
  layer: number;
  io: HostAttentionIO;
}

/**
 * The reference backend: the same metadata as the WGSL backend, run on host arrays with the CPU
 * reference kernels (f64 accumulation). For tests, and as the spec of what a backend computes.
 */
export class CpuAttentionBackend implements AttentionBackend<null, HostAttentionIO, HostLayerBinding> {
  readonly name = 'cpu';
  readonly capabilities = { writesKv: true, mixedBatches: true, splitKv: false };
  readonly builder: MetadataBuilder;
  private readonly geometry: AttentionGeometry;
  /** rounding of the activation (output) dtype */
  private readonly round: (v: number) => number;

  constructor(
    dims: AttentionModelDims & { act: ActDType },
    readonly cache: HostPagedKVCache,
    limits: AttentionLimits,
  ) {
    this.builder = new MetadataBuilder(limits, cache.blockSize, cache.numBlocks);
    this.geometry = {
      numHeads: dims.numHeads,
      numKvHeads: dims.numKvHeads,
      headDim: dims.headDim,
      blockSize: cache.blockSize,
      scale: dims.scale ?? 1 / Math.sqrt(dims.headDim),
      softcap: dims.softcap ?? 0,
      slidingWindow: dims.slidingWindow ?? 0,
    };
    this.round = roundAs(dims.act);
  }

  buildMetadata(step: StepBatch): AttentionMetadata {
    return this.builder.build(step);
  }

  bindLayer(layer: number, io: HostAttentionIO): HostLayerBinding {
    if (!this.cache.layers[layer]) throw new WgllmError('invalid_argument', `no cache layer ${layer}`);
    return { layer, io };
  }

  forward(_enc: null, b: HostLayerBinding, md: AttentionMetadata, opts?: ForwardOptions): void {
    if (md.step !== this.builder.currentStep) throw new WgllmError('invalid_argument', `stale attention metadata (step ${md.step})`);
    const { k, v } = this.cache.layers[b.layer]!;
    const io = b.io;
    if (!opts?.skipKvWrite) kvWriteInto(io.k, io.kView, io.v, io.vView, md.slotMapping, k, v, this.geometry, roundAs(this.cache.dtype));
    io.out.set(pagedAttentionRef(io.q, io.qView, k, v, md, this.geometry, this.round));
  }

  dispose(): void {}
}
