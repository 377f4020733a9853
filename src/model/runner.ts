import type { ActDType } from '../core/dtype.js';
import { WgllmError } from '../core/errors.js';
import type { ModelConfig } from '../core/model-config.js';
import { kvBlockBytes, PagedKVCache } from '../attention/paged-kv-cache.js';
import type { AttentionMetadata, StepSeq } from '../attention/types.js';
import { fusedQkvViews, WgslAttentionBackend, type WgslLayerBinding } from '../attention/wgsl-backend.js';
import type { GpuContext } from '../gpu/context.js';
import { readBuffer, writeBuffer } from '../gpu/buffers.js';
import { f16ArrayToF32 } from '../core/dtype.js';
import { defaultConfigs, type ConfigSource } from './config-source.js';
import {
  ACT_BYTES,
  allocateActivations,
  attentionConfigs,
  buildKernels,
  embedShape,
  qkNormShapes,
  ropeShapes,
  type Activations,
  type Kernels,
} from './runner-build.js';
import type { ModelFile } from './formats/types.js';
import { uploadModelWeights, type ModelWeights } from './weights.js';
import type { UploadProgress } from './weight-upload.js';

/**
 * One forward step of a decoder-only transformer over a batch the scheduler formed: many
 * sequences, each a chunk of new tokens over its paged KV cache (a prompt chunk, or one token
 * of a decode), with logits only at the rows that sample.
 *
 * Everything is built at load: buffers for the largest step, pipelines, bind groups. A step
 * then writes a few small buffers (`prepare`) and records every dispatch into one compute pass
 * (`encode`), allocating nothing on the GPU.
 */

export interface RunnerLimits {
  /** tokens per step (the scheduler's maxNumBatchedTokens) */
  maxNumTokens: number;
  /** sequences per step */
  maxNumSeqs: number;
  /** longest sequence (prompt + output) */
  maxModelLen: number;
}

export interface RunnerOptions {
  /** activation dtype: 'f16' where the adapter has shader-f16 (default), else 'f32' */
  act?: ActDType;
  limits: RunnerLimits;
  kv?: { blockSize?: number; numBlocks?: number; budgetBytes?: number };
  configs?: ConfigSource;
  onProgress?: UploadProgress;
  /**
   * Decode GEMVs on int8 dot products over x quantized per 32-block (as llama.cpp), where the
   * weights take them (Q4_0, Q8_0, Q6_K). Default: on the f16 path only; true also on the f32 path
   * (adapters without shader-f16; its decode is then no longer the exact reference).
   */
  int8Gemv?: boolean;
  /**
   * Where those GEMVs read quantized x, the kernel producing x writes it in the same pass instead
   * of a quantizer pass per linear: the same words, one dispatch fewer each. true (default):
   * rmsnorm before q|k|v and gate|up, and swiglu before down; 'norms': the rmsnorms only; false:
   * the separate passes. H200, Llama-3.1-8B Q4_0, decode-step GPU ms at batch 1 / 8 / 32, same
   * call: 'norms' 2.843 / 7.031 / 21.98, true 2.777 / 6.999 / 21.94 (swiglu.quant-x on 16
   * invocations per pair of blocks; with one invocation per pair it had lost to the separate pass).
   */
  fuseQuantizeX?: boolean | 'norms';
  /**
   * RoPE inside the attention's KV write (one pass where rope and kv-write took two; the fused qkv
   * buffer of models with q|k|v in one weight). Default true; false: the rope pass of its own.
   */
  fuseRope?: boolean;
  /**
   * Prompt chunks' attention on the tensor-core kernel (attention.tensor) where the adapter runs
   * it: default true; false keeps the general tiled kernel (an A/B of its numerics and speed).
   */
  tensorAttention?: boolean;
  /**
   * A fused gate|up's prefill-sized tensor-core GEMM applies SwiGLU in its epilogue (matmul.tensor
   * with MatmulShape.glu): no swiglu pass, and the [M, 2F] product is never written. Default true;
   * false keeps the separate pass (an A/B).
   */
  fuseSwiglu?: boolean;
  /**
   * Steps that take a prefill-sized GEMM built for >= DEQUANT_MIN_M rows (more than 128 tokens,
   * where maxNumTokens >= 256) run quantized layers' tensor-core GEMMs over an f16 copy of each layer's W,
   * written just before into one scratch buffer (the size of the
   * largest linear in f16: 235 MB for Llama-3.1-8B's gate|up). Default true where those GEMMs
   * run (f16 activations, subgroup matrices); false keeps the GEMMs that decode the blocks in
   * their staging (an A/B, or to save the scratch's memory).
   */
  prefillDequant?: boolean;
}

export interface RunnerStep {
  /** [numTokens] token ids, sequences one after another */
  tokenIds: ArrayLike<number>;
  /** [numTokens] position of each token within its sequence */
  positions: ArrayLike<number>;
  /** the sequences, in the order of their tokens */
  seqs: readonly StepSeq[];
  /** [numSamples] index into the step's tokens of each row that needs logits */
  sampleRows: ArrayLike<number>;
}

export class ModelRunner {
  private md: AttentionMetadata | undefined;
  private numTokens = 0;
  private numSamples = 0;
  private readonly idsHost: Uint32Array;
  private readonly posHost: Uint32Array;
  private readonly rowsHost: Uint32Array;

  private constructor(
    private readonly ctx: GpuContext,
    readonly config: ModelConfig,
    readonly act: ActDType,
    readonly limits: RunnerLimits,
    readonly kvCache: PagedKVCache,
    private readonly weights: ModelWeights,
    private readonly buf: Activations,
    private readonly k: Kernels,
    private readonly attention: WgslAttentionBackend,
    private readonly attnLayers: WgslLayerBinding[],
  ) {
    this.idsHost = new Uint32Array(limits.maxNumTokens);
    this.posHost = new Uint32Array(limits.maxNumTokens);
    this.rowsHost = new Uint32Array(limits.maxNumSeqs);
  }

  get blockSize(): number {
    return this.kvCache.blockSize;
  }

  get numBlocks(): number {
    return this.kvCache.numBlocks;
  }

  /** [maxNumSeqs, vocabSize] act: row i holds the logits of the step's i-th sample row */
  get logits(): GPUBuffer {
    return this.buf.logits;
  }

  /** [maxNumTokens] u32: the step's input token ids, written by `prepare` (the sampler's feed may patch them) */
  get inputIds(): GPUBuffer {
    return this.buf.ids;
  }

  static async create(ctx: GpuContext, model: ModelFile, opts: RunnerOptions): Promise<ModelRunner> {
    const cfg = model.config;
    const act: ActDType = opts.act ?? (ctx.info.features.f16 ? 'f16' : 'f32');
    if (act === 'f16' && !ctx.info.features.f16) {
      throw new WgllmError('unsupported', "f16 activations need the adapter feature 'shader-f16'; use act: 'f32'");
    }
    const limits = opts.limits;
    for (const [k, v] of Object.entries(limits)) {
      if (!Number.isInteger(v) || v < 1) throw new WgllmError('invalid_argument', `runner limit ${k} must be a positive integer, got ${v}`);
    }
    const configs = opts.configs ?? defaultConfigs(ctx.info);
    const weights = await uploadModelWeights(ctx, model, opts.onProgress);
    const owned: { destroy(): void }[] = [];
    try {
      const blockSize = opts.kv?.blockSize ?? 16;
      // Without a size: room for every sequence at full length, within 1 GiB.
      const fullBlocks = 1 + limits.maxNumSeqs * Math.ceil(limits.maxModelLen / blockSize);
      const perBlock = 2 * cfg.numLayers * kvBlockBytes(cfg.numKvHeads, cfg.headDim, blockSize, act);
      const kvCache = await PagedKVCache.create(ctx, {
        numLayers: cfg.numLayers,
        numKvHeads: cfg.numKvHeads,
        headDim: cfg.headDim,
        blockSize,
        ...(opts.kv?.numBlocks
          ? { numBlocks: opts.kv.numBlocks }
          : { budgetBytes: opts.kv?.budgetBytes ?? Math.min(fullBlocks * perBlock, 2 ** 30) }),
        dtype: act,
      });
      owned.push({ destroy: () => kvCache.dispose() });
      const buf = allocateActivations(ctx, cfg, act, limits, weights, owned);
      const rope = !buf.k && opts.fuseRope !== false ? { style: cfg.ropeStyle, rotaryDim: cfg.rotaryDim, numPositions: limits.maxModelLen, positions: buf.positions, cosSin: buf.cosSin } : undefined;
      const attention = await WgslAttentionBackend.create(ctx, {
        ...(rope ? { rope } : {}),
        dims: { act, numHeads: cfg.numHeads, numKvHeads: cfg.numKvHeads, headDim: cfg.headDim, slidingWindow: cfg.slidingWindow ?? 0 },
        cache: kvCache,
        limits: { maxNumTokens: limits.maxNumTokens, maxNumSeqs: limits.maxNumSeqs, maxBlocksPerSeq: Math.ceil(limits.maxModelLen / kvCache.blockSize) },
        configs: {
          ...(await attentionConfigs(cfg, act, limits, kvCache, 'fused' in weights.layers[0]!.qkv, configs, ctx.info)),
          ...(opts.tensorAttention === false ? { prefillTensor: null } : {}),
        },
      });
      owned.push({ destroy: () => attention.dispose() });
      const views = buf.k
        ? {
            q: { buffer: buf.q, offset: 0, tokenStride: cfg.numHeads * cfg.headDim },
            k: { buffer: buf.k, offset: 0, tokenStride: cfg.numKvHeads * cfg.headDim },
            v: { buffer: buf.v!, offset: 0, tokenStride: cfg.numKvHeads * cfg.headDim },
          }
        : fusedQkvViews(buf.q, cfg);
      const attnLayers = weights.layers.map((_, l) => attention.bindLayer(l, { ...views, out: buf.attnOut }));
      const kernels = await buildKernels(ctx, cfg, act, limits, weights, buf, configs, {
        ...(opts.int8Gemv !== undefined ? { int8: opts.int8Gemv } : {}),
        ...(opts.fuseQuantizeX !== undefined ? { fuseQuantizeX: opts.fuseQuantizeX } : {}),
        ...(opts.fuseSwiglu !== undefined ? { fuseSwiglu: opts.fuseSwiglu } : {}),
        ...(opts.prefillDequant !== undefined ? { prefillDequant: opts.prefillDequant } : {}),
        ropeInAttention: attention.appliesRope,
      });
      return new ModelRunner(ctx, cfg, act, limits, kvCache, weights, buf, kernels, attention, attnLayers);
    } catch (e) {
      for (const o of owned) o.destroy();
      for (const b of weights.buffers) b.destroy();
      throw e;
    }
  }

  /** Writes the step's inputs and sizes every launch. Call before `encode`, once per step. */
  prepare(step: RunnerStep): void {
    const T = step.tokenIds.length;
    const S = step.sampleRows.length;
    const { maxNumTokens, maxNumSeqs, maxModelLen } = this.limits;
    if (T < 1 || T > maxNumTokens) throw new WgllmError('invalid_argument', `a step must have 1..${maxNumTokens} tokens, got ${T}`);
    if (S > maxNumSeqs || step.seqs.length > maxNumSeqs) throw new WgllmError('invalid_argument', `a step may have at most ${maxNumSeqs} sequences`);
    if (step.positions.length !== T) throw new WgllmError('invalid_argument', 'positions must have one entry per token');
    const vocab = this.config.vocabSize;
    for (let i = 0; i < T; i++) {
      const id = step.tokenIds[i]!;
      const p = step.positions[i]!;
      if (!(id >= 0 && id < vocab)) throw new WgllmError('invalid_argument', `token id ${id} is outside the vocabulary (0..${vocab - 1})`);
      if (!(p >= 0 && p < maxModelLen)) throw new WgllmError('invalid_argument', `position ${p} is outside 0..${maxModelLen - 1}`);
      this.idsHost[i] = id;
      this.posHost[i] = p;
    }
    for (let i = 0; i < S; i++) {
      const r = step.sampleRows[i]!;
      if (!(r >= 0 && r < T)) throw new WgllmError('invalid_argument', `sample row ${r} is outside the step's ${T} tokens`);
      this.rowsHost[i] = r;
    }
    writeBuffer(this.ctx, this.buf.ids, 0, this.idsHost.subarray(0, T));
    writeBuffer(this.ctx, this.buf.positions, 0, this.posHost.subarray(0, T));
    if (S) writeBuffer(this.ctx, this.buf.sampleRows, 0, this.rowsHost.subarray(0, S));
    this.md = this.attention.buildMetadata({ seqs: step.seqs });
    this.numTokens = T;
    this.numSamples = S;
    this.setShapes(T, S);
  }

  private setShapes(T: number, S: number): void {
    const c = this.config;
    const k = this.k;
    k.embed.setShape({ ...embedShape(this.act, this.weights, c), numTokens: T });
    // the linears first: their GEMVs decide whether x's producers quantize x for them
    for (const g of [...k.qkv, k.o, ...k.gateUp, k.down]) g.setM(T);
    k.normFirst.setShape({ act: this.act, mode: 'plain', numRows: T, rowLen: c.hiddenSize, eps: c.rmsNormEps });
    k.ffnNorm.setShape({ act: this.act, mode: 'residual', numRows: T, rowLen: c.hiddenSize, eps: c.rmsNormEps });
    k.attnNorm.setShape({ act: this.act, mode: 'residual', numRows: T, rowLen: c.hiddenSize, eps: c.rmsNormEps });
    if (k.qkNorm) {
      const [q, kk] = qkNormShapes(this.act, c, Boolean(this.buf.k), T);
      k.qkNorm.q.setShape(q);
      k.qkNorm.k.setShape(kk);
    }
    if (k.rope.length) ropeShapes(this.act, c, Boolean(this.buf.k), T, this.limits.maxModelLen).forEach((s, i) => k.rope[i]!.setShape(s));
    k.swiglu.setShape({ act: this.act, numTokens: T, intermediateSize: c.intermediateSize, fused: !this.buf.up });
    if (S) {
      k.gather.setShape({ act: this.act, table: this.act, numTokens: S, hiddenSize: c.hiddenSize, vocabSize: T });
      k.lmHead.setM(S);
    }
  }

  /**
   * Records the forward pass of the prepared step into `pass`: all of it, or the layers
   * [from, to) (the embedding with layer 0, the logits with the last), so that a caller can
   * submit a long step in parts and the GPU starts while the rest is recorded.
   */
  encode(pass: GPUComputePassEncoder, layers: { from: number; to: number } = { from: 0, to: this.config.numLayers }): void {
    const md = this.md;
    if (!md) throw new WgllmError('invalid_argument', 'prepare() a step before encoding it');
    const k = this.k;
    const L = this.config.numLayers;
    if (!(0 <= layers.from && layers.from <= layers.to && layers.to <= L)) throw new WgllmError('invalid_argument', `encode: layers ${layers.from}..${layers.to} outside 0..${L}`);
    if (layers.from === 0) {
      k.embed.encode(pass); // residual = embed(ids)
      // (x's producers marked * also quantize it for the int8 GEMVs after them where built: XProducer)
      k.normFirst.encode(pass); // * normed = rmsnorm(residual) * attn_norm[0]
    }
    for (let l = layers.from; l < layers.to; l++) {
      for (const g of k.qkv) g.encode(pass, l); // q|k|v = normed @ Wqkv^T (+ bias)
      if (k.qkNorm) {
        k.qkNorm.q.encode(pass, l); // per-head rmsnorm of q and k (Qwen3)
        k.qkNorm.k.encode(pass, l);
      }
      for (const r of k.rope) r.encode(pass); // rotate q and k in place (none: the KV write does)
      this.attention.forward(pass, this.attnLayers[l]!, md); // (rope +) kv write + paged attention -> attnOut
      k.o.encode(pass, l); // proj = attnOut @ Wo^T
      k.ffnNorm.encode(pass, l); // * residual += proj; normed = rmsnorm(residual) * ffn_norm[l]
      for (const g of k.gateUp) g.encode(pass, l); // gate|up = normed @ Wgu^T
      if (!k.gateUp[0]!.fusesGlu(l)) k.swiglu.encode(pass); // * mlp = silu(gate) * up (unless gate|up's GEMM did)
      k.down.encode(pass, l); // proj = mlp @ Wdown^T
      k.attnNorm.encode(pass, l); // * residual += proj; normed = rmsnorm(residual) * (attn_norm[l+1] | output_norm)
    }
    if (this.numSamples && layers.to === L) {
      k.gather.encode(pass); // sampled = normed[sampleRows]
      k.lmHead.encode(pass); // logits = sampled @ Wout^T
    }
  }

  /** Runs the prepared step on its own command buffer (tests and simple callers). */
  run(): void {
    const enc = this.ctx.device.createCommandEncoder({ label: 'forward' });
    const pass = enc.beginComputePass({ label: 'forward' });
    this.encode(pass);
    pass.end();
    this.ctx.queue.submit([enc.finish()]);
  }

  /** The last step's logits as f32 [numSamples, vocabSize] (tests, debugging). */
  async readLogits(): Promise<Float32Array> {
    const n = this.numSamples * this.config.vocabSize;
    const bytes = await readBuffer(this.ctx, this.buf.logits, n * ACT_BYTES[this.act]);
    return this.act === 'f32' ? new Float32Array(bytes) : f16ArrayToF32(new Uint16Array(bytes));
  }

  get lastStepTokens(): number {
    return this.numTokens;
  }

  dispose(): void {
    const k = this.k;
    for (const g of [k.embed, k.normFirst, k.ffnNorm, k.attnNorm, ...k.rope, k.swiglu, k.gather]) g.destroy();
    for (const b of k.quantX) b.destroy();
    k.wF16?.destroy();
    for (const g of [...k.qkv, k.o, ...k.gateUp, k.down, k.lmHead]) g.destroy();
    k.qkNorm?.q.destroy();
    k.qkNorm?.k.destroy();
    this.attention.dispose();
    this.kvCache.dispose();
    for (const b of Object.values(this.buf)) (b as GPUBuffer | undefined)?.destroy();
    for (const b of this.weights.buffers) b.destroy();
  }
}

