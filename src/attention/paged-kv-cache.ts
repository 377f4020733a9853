import { WgllmError } from '../core/errors.js';
import type { GpuContext } from '../gpu/context.js';
import { createBuffer } from '../gpu/buffers.js';
import { KV_BYTES, type KvDType } from '../kernels/attention-shape.js';

export interface PagedKVCacheOptions {
  numLayers: number;
  numKvHeads: number;
  headDim: number;
  /** tokens per block (16 by default) */
  blockSize?: number;
  /** default: 'f16' where the adapter has `shader-f16` (the f16 activation path), else 'f32' */
  dtype?: KvDType;
  /** bytes for K and V of all layers together; the block count follows from it */
  budgetBytes?: number;
  /** or an exact block count (including the null block 0) */
  numBlocks?: number;
}

export interface KVLayerBuffers {
  /** [numBlocks, numKvHeads, blockSize, headDim] dtype (f16 as packed u32 pairs) */
  k: GPUBuffer;
  /** [numBlocks, numKvHeads, blockSize, headDim] dtype */
  v: GPUBuffer;
}

/** Bytes of one block of one layer's K (or V). */
export function kvBlockBytes(numKvHeads: number, headDim: number, blockSize: number, dtype: KvDType): number {
  return blockSize * numKvHeads * headDim * KV_BYTES[dtype];
}

/** The most blocks one per-layer buffer may hold on this adapter (binding and buffer limits). */
export function maxBlocksPerBuffer(ctx: GpuContext, blockBytes: number): number {
  const limit = Math.min(ctx.info.limits.maxStorageBufferBindingSize, ctx.info.limits.maxBufferSize);
  return Math.floor(limit / blockBytes);
}

/**
 * The paged KV cache on the GPU: per layer one K and one V buffer of `numBlocks` blocks, laid out
 * [numBlocks, numKvHeads, blockSize, headDim] (see shaders/attention.wgsl for why head-major
 * blocks). Allocated once, at its final size, from a byte budget; never grown. Block 0 is the
 * null block: the allocator (src/kv) never hands it out, and block tables are padded with it.
 * The block ids come from a KVCacheManager built with the same `numBlocks` and `blockSize`.
 */
export class PagedKVCache {
  readonly layers: readonly KVLayerBuffers[];

  private constructor(
    readonly numLayers: number,
    readonly numKvHeads: number,
    readonly headDim: number,
    readonly blockSize: number,
    readonly dtype: KvDType,
    readonly numBlocks: number,
    layers: KVLayerBuffers[],
  ) {
    this.layers = layers;
  }

  /** Bytes of one block across all layers, K and V: what each block of the pool costs. */
  get bytesPerBlock(): number {
    return 2 * this.numLayers * kvBlockBytes(this.numKvHeads, this.headDim, this.blockSize, this.dtype);
  }

  get totalBytes(): number {
    return this.bytesPerBlock * this.numBlocks;
  }

  /** Tokens the cache holds (the null block excluded). */
  get capacityTokens(): number {
    return (this.numBlocks - 1) * this.blockSize;
  }

  static async create(ctx: GpuContext, o: PagedKVCacheOptions): Promise<PagedKVCache> {
    const blockSize = o.blockSize ?? 16;
    const dtype = o.dtype ?? (ctx.info.features.f16 ? 'f16' : 'f32');
    for (const [k, v] of Object.entries({ numLayers: o.numLayers, numKvHeads: o.numKvHeads, headDim: o.headDim, blockSize })) {
      if (!Number.isInteger(v) || v < 1) throw new WgllmError('invalid_argument', `PagedKVCache: ${k} must be a positive integer, got ${v}`);
    }
    if (o.headDim % 4 !== 0) throw new WgllmError('unsupported', `PagedKVCache: headDim ${o.headDim} must be a multiple of 4`);
    const blockBytes = kvBlockBytes(o.numKvHeads, o.headDim, blockSize, dtype);
    const perBlock = 2 * o.numLayers * blockBytes;
    let numBlocks: number;
    if (o.numBlocks !== undefined) numBlocks = o.numBlocks;
    else if (o.budgetBytes !== undefined) numBlocks = Math.floor(o.budgetBytes / perBlock);
    else throw new WgllmError('invalid_argument', 'PagedKVCache: give budgetBytes or numBlocks');
    const cap = maxBlocksPerBuffer(ctx, blockBytes);
    if (numBlocks > cap) {
      if (o.numBlocks !== undefined) {
        throw new WgllmError(
          'out_of_memory',
          `PagedKVCache: ${numBlocks} blocks of ${blockBytes} bytes exceed this adapter's largest storage buffer ` +
            `(${cap} blocks). Use fewer blocks or a smaller block size.`,
        );
      }
      numBlocks = cap; // a budget is an upper bound: take what one buffer per layer can hold
    }
    if (!(numBlocks >= 2)) {
      throw new WgllmError(
        'out_of_memory',
        `PagedKVCache: the budget holds ${numBlocks} blocks of ${perBlock} bytes (all layers); at least 2 are needed ` +
          '(block 0 is the null block). Give a larger KV budget or a shorter context.',
      );
    }
    const layers: KVLayerBuffers[] = [];
    const destroyAll = () => layers.forEach((b) => (b.k.destroy(), b.v.destroy()));
    // Allocation failure is reported through an error scope, not thrown: catch it here, once.
    ctx.device.pushErrorScope('out-of-memory');
    try {
      for (let l = 0; l < o.numLayers; l++) {
        layers.push({
          k: createBuffer(ctx, numBlocks * blockBytes, `kv-cache:${l}:k`),
          v: createBuffer(ctx, numBlocks * blockBytes, `kv-cache:${l}:v`),
        });
      }
    } catch (e) {
      await ctx.device.popErrorScope();
      destroyAll();
      throw e;
    }
    const oom = await ctx.device.popErrorScope();
    if (oom) {
      destroyAll();
      throw new WgllmError(
        'out_of_memory',
        `PagedKVCache: the GPU could not allocate ${numBlocks * perBlock} bytes of KV cache (${oom.message}). Give a smaller KV budget.`,
      );
    }
    return new PagedKVCache(o.numLayers, o.numKvHeads, o.headDim, blockSize, dtype, numBlocks, layers);
  }

  layer(i: number): KVLayerBuffers {
    const l = this.layers[i];
    if (!l) throw new WgllmError('invalid_argument', `PagedKVCache: no layer ${i} (have ${this.numLayers})`);
    return l;
  }

  dispose(): void {
    for (const b of this.layers) {
      b.k.destroy();
      b.v.destroy();
    }
  }
}
