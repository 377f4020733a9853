import type { PagedBatch } from '../core/reference/attention.js';

/**
 * The attention-backend seam. The model runner describes a step once (`buildMetadata`), binds
 * each layer's activation buffers once at load (`bindLayer`), and per layer per step calls
 * `forward`, which stores this step's K/V in the paged cache and attends (prefill chunks,
 * cached prefixes and decodes in one call). A backend may fuse those steps however it likes.
 */

/** One scheduled sequence of a step, in q-row order. */
export interface StepSeq {
  /** tokens computed this step (its rows of q/k/v): a prompt chunk, or 1 for a decode */
  queryLen: number;
  /** tokens of the sequence once this step is done: cached prefix + queryLen */
  seqLen: number;
  /** physical block ids of positions 0 .. seqLen-1, in order (from the KVCacheManager) */
  blockIds: ArrayLike<number>;
}

export interface StepBatch {
  seqs: readonly StepSeq[];
  /**
   * Cache slots of this step's tokens [numTokens] (slot = block * blockSize + row; -1: do not
   * write, e.g. a padding row). Default: derived from the block tables and positions.
   */
  slotMapping?: Int32Array;
}

/** How a backend will run one step (chosen in buildMetadata from the batch's shape). */
export interface AttentionPlan {
  /** the tile config family used: decode-only batches take tiles of one query */
  tiles: 'decode' | 'prefill';
  /**
   * 'tiled': the general kernel (any mix of queries); 'decode': the subgroup kernel for one query
   * per sequence; 'tensor': the tensor-core kernel for steps with prompt chunks (unsplit)
   */
  kernel: 'tiled' | 'decode' | 'tensor';
  /** 1: one pass writes the output; > 1: split-KV partials + reduce */
  numSplits: number;
  /** keys per split (0 when numSplits is 1) */
  partitionSize: number;
}

/**
 * One step's metadata: plain host arrays, the same for every backend, plus the backend's plan.
 * The arrays are views into buffers the builder preallocated for the maximum batch: a step's
 * metadata is valid until the next buildMetadata, and `step` says which one it is.
 */
export interface AttentionMetadata extends PagedBatch {
  readonly step: number;
  maxQueryLen: number;
  maxSeqLen: number;
  /** [numSeqs + 1] u32 */
  queryStartLoc: Uint32Array;
  /** [numSeqs] u32 */
  seqLens: Uint32Array;
  /** [numSeqs, blockTableStride] u32, padded with the null block 0 */
  blockTables: Uint32Array;
  /** [numTokens] i32 */
  slotMapping: Int32Array;
  plan: AttentionPlan;
}

export interface AttentionBackendCapabilities {
  /** forward() stores the step's k/v in the cache itself (else the caller must) */
  writesKv: boolean;
  /** prefill chunks (with cached prefixes) and decodes run in one call */
  mixedBatches: boolean;
  /** long contexts with few sequences are split over workgroups (flash decoding) */
  splitKv: boolean;
}

/**
 * Enc: what forward encodes into (a GPUComputePassEncoder for the WGSL backend; nothing on the
 * CPU). IO: a layer's activations (GPU buffer views, or host arrays). Binding: what bindLayer
 * prepared (bind groups), so that forward allocates and creates nothing.
 */
export interface AttentionBackend<Enc, IO, Binding> {
  readonly name: string;
  readonly capabilities: AttentionBackendCapabilities;
  buildMetadata(step: StepBatch): AttentionMetadata;
  bindLayer(layer: number, io: IO): Binding;
  forward(enc: Enc, binding: Binding, md: AttentionMetadata, opts?: ForwardOptions): void;
  dispose(): void;
}

export interface ForwardOptions {
  /** the caller has written this step's k/v to the cache already (e.g. a fused rope + kv write) */
  skipKvWrite?: boolean;
}

/** Static problem of one model's attention layers. */
export interface AttentionModelDims {
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  /** softmax scale; default 1/sqrt(headDim) */
  scale?: number;
  /** logit soft cap (Gemma 2); 0 or undefined = off */
  softcap?: number;
  /** sliding window in tokens; 0 or undefined = off */
  slidingWindow?: number;
}

/** Batch limits the metadata buffers are preallocated for. */
export interface AttentionLimits {
  maxNumTokens: number;
  maxNumSeqs: number;
  /** ceil(maxModelLen / blockSize) */
  maxBlocksPerSeq: number;
}
