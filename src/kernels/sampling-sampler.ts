import type { ActDType } from '../core/dtype.js';
import { WgllmError } from '../core/errors.js';
import type { ResolvedSampling } from '../core/sampling-params.js';
import { createBuffer, writeBuffer } from '../gpu/buffers.js';
import type { GpuContext } from '../gpu/context.js';
import { KernelDispatch } from './launch.js';
import { samplingSpec, type SamplingConfig, type SamplingShape } from './sampling.js';
import { ADMIT_OUTPUT_FLAG, samplingClearSpec, samplingFeedSpec, samplingFillSpec, type AdmitShape, type FeedShape } from './sampling-aux.js';
import { LP_STRIDE, metaWords, packRows, ROW_WORDS, type SamplingRow } from './sampling-layout.js';
import { SampleReadback } from './sampling-readback.js';

export interface SamplerOptions {
  act: ActDType;
  vocabSize: number;
  /** slots (running requests) and rows per step */
  maxNumSeqs: number;
  /** logit-bias entries of one step, all rows together (default 64 per slot) */
  maxLogitBias?: number;
  /** allocate the penalty bins [maxNumSeqs, vocabSize] u32 (default true); without, penalties are refused */
  penalties?: boolean;
  /** tuned config of the sampling kernel (default: the spec's) */
  config?: SamplingConfig;
  /** steps whose results may be awaiting readback at once (default 2) */
  readbackDepth?: number;
}

/**
 * GPU sampling for the engine: owns every buffer the kernels use (allocated once), packs a
 * step's parameters without allocating, and encodes admission, sampling and feeding into the
 * caller's compute pass. Per step the engine calls:
 *
 *   sampler.prepare(rows)                    // one writeBuffer of the rows (+ bias, + admissions)
 *   sampler.encodeFeed(pass, idsBuffer)      // optional, before the embedding: previous tokens -> ids
 *   sampler.encode(pass, logitsBuffer)       // after lm_head
 *   const rb = sampler.encodeReadback(enc)   // after pass.end(); then submit
 *   const { tokenIds, logprobs } = await rb.read()
 *
 * and once per request: `await sampler.admit(slot, resolved, promptIds, outputIds)` when it gets a
 * slot (and again after a preemption); bindLogits/bindFeed once per buffer at setup.
 */
export class Sampler {
  // [maxNumSeqs*16 + 2*maxLogitBias] u32: rows, then bias entries (sampling-layout.ts)
  private readonly meta: GPUBuffer;
  private readonly metaU32: Uint32Array;
  private readonly metaF32: Float32Array;
  // [maxNumSeqs, vocabSize] u32 penalty bins by slot (4 bytes when penalties are off)
  private readonly counts: GPUBuffer;
  // [maxNumSeqs, vocabSize] f32 scratch: processed logits
  private readonly work: GPUBuffer;
  /** [maxNumSeqs] u32: the sampled token of each row of the last step */
  readonly tokenIds: GPUBuffer;
  /** [maxNumSeqs] u32: the last sampled token of each slot; the next step's input on the GPU */
  readonly lastToken: GPUBuffer;
  // [maxNumSeqs, 21] f32 / u32: logprob | rank, then top-n values / ids
  private readonly lpValues: GPUBuffer;
  private readonly lpIds: GPUBuffer;
  // [2*maxNumSeqs] u32: (dst, slot) pairs of the step's feed
  private readonly feedList: GPUBuffer;
  private readonly feedHost: Uint32Array;
  // [maxNumSeqs + 2*admitCapacity] u32: slots to reset, then (slot, token | flag) entries
  private admitBuf: GPUBuffer;
  private admitHost: Uint32Array;
  private admitCapacity = 0;
  private admitReady = false;
  private readonly pending = new Map<number, { prompt: ArrayLike<number>; output: ArrayLike<number> }>();

  private readonly shape: SamplingShape;
  private readonly admitShape: AdmitShape;
  private readonly feedShape: FeedShape = { numFeeds: 0, maxNumSeqs: 0, numTokens: 0 };
  private readonly samplers = new Map<GPUBuffer, KernelDispatch<SamplingShape, SamplingConfig>>();
  private readonly feeds = new Map<GPUBuffer, KernelDispatch<FeedShape, { wg: number }>>();
  private clear!: KernelDispatch<AdmitShape, { wg: number }>;
  private fill!: KernelDispatch<AdmitShape, { wg: number }>;
  private readonly seen: Uint8Array; // [maxNumSeqs] slot-used marks for validation
  private readonly tops: Int32Array; // [maxNumSeqs] logprobs count per row of the prepared step
  private readonly ring: SampleReadback[];
  private ringNext = 0;
  private readonly config: SamplingConfig;

  private constructor(
    private readonly ctx: GpuContext,
    readonly opts: Required<Omit<SamplerOptions, 'config'>>,
    config: SamplingConfig | undefined,
  ) {
    const { vocabSize: V, maxNumSeqs: S, maxLogitBias } = opts;
    this.shape = { act: opts.act, numRows: 0, vocabSize: V, maxNumSeqs: S, maxBias: maxLogitBias };
    this.admitShape = { numClear: 0, numEntries: 0, vocabSize: V, maxNumSeqs: S };
    this.feedShape.maxNumSeqs = S;
    const reasons = samplingSpec.supports(this.shape, ctx.info);
    if (reasons.length) throw new WgllmError('unsupported', `GPU sampling cannot run here: ${reasons.join('; ')}`);
    this.config = config ?? samplingSpec.defaultConfig(this.shape, ctx.info);
    const words = metaWords(S, maxLogitBias);
    this.metaU32 = new Uint32Array(words);
    this.metaF32 = new Float32Array(this.metaU32.buffer);
    this.meta = createBuffer(ctx, words * 4, 'sampling:meta');
    this.counts = createBuffer(ctx, opts.penalties ? S * V * 4 : 4, 'sampling:counts');
    this.work = createBuffer(ctx, S * V * 4, 'sampling:work');
    this.tokenIds = createBuffer(ctx, S * 4, 'sampling:tokenIds');
    this.lastToken = createBuffer(ctx, S * 4, 'sampling:lastToken');
    this.lpValues = createBuffer(ctx, S * LP_STRIDE * 4, 'sampling:lpValues');
    this.lpIds = createBuffer(ctx, S * LP_STRIDE * 4, 'sampling:lpIds');
    this.feedList = createBuffer(ctx, S * 8, 'sampling:feed');
    this.feedHost = new Uint32Array(2 * S);
    this.admitHost = new Uint32Array(S);
    this.admitBuf = createBuffer(ctx, S * 4, 'sampling:admit');
    this.seen = new Uint8Array(S);
    this.tops = new Int32Array(S);
    this.ring = Array.from({ length: opts.readbackDepth }, (_, i) => new SampleReadback(ctx, S, `sampling:readback${i}`));
  }

  static async create(ctx: GpuContext, options: SamplerOptions): Promise<Sampler> {
    const opts = {
      act: options.act,
      vocabSize: options.vocabSize,
      maxNumSeqs: options.maxNumSeqs,
      maxLogitBias: options.maxLogitBias ?? 64 * options.maxNumSeqs,
      penalties: options.penalties ?? true,
      readbackDepth: options.readbackDepth ?? 2,
    };
    if (!(opts.vocabSize >= 1 && opts.maxNumSeqs >= 1 && opts.readbackDepth >= 1)) {
      throw new WgllmError('invalid_argument', 'Sampler needs vocabSize >= 1, maxNumSeqs >= 1 and readbackDepth >= 1');
    }
    const s = new Sampler(ctx, opts, options.config);
    if (opts.penalties) await s.growAdmit(1024);
    return s;
  }

  /** Builds the sampling dispatch for a logits buffer ([maxNumSeqs, vocabSize] act_t); once per buffer. */
  async bindLogits(logits: GPUBuffer): Promise<void> {
    if (this.samplers.has(logits)) return;
    const kd = await KernelDispatch.create(this.ctx, samplingSpec, this.shape, this.config, {
      logits,
      meta: this.meta,
      counts: this.counts,
      work: this.work,
      tokenIds: this.tokenIds,
      lastToken: this.lastToken,
      lpValues: this.lpValues,
      lpIds: this.lpIds,
    });
    this.samplers.set(logits, kd);
  }

  /** Builds the feed dispatch for the model's input-ids buffer ([numTokens] u32); once per buffer. */
  async bindFeed(ids: GPUBuffer): Promise<void> {
    if (this.feeds.has(ids)) return;
    const shape = { ...this.feedShape, numTokens: ids.size / 4 };
    const kd = await KernelDispatch.create(this.ctx, samplingFeedSpec, shape, samplingFeedSpec.defaultConfig(shape, this.ctx.info), {
      feed: this.feedList,
      lastToken: this.lastToken,
      ids,
    });
    this.feeds.set(ids, kd);
  }

  /**
   * Queues the penalty state of a request that just got `slot`: reset, then its prompt tokens
   * (repetition penalty) and the output it already has (all three penalties). Applied at the
   * next `encode`. A no-op for requests without penalties. Awaits only when the admission buffer
   * must grow (a longer prompt than ever before).
   */
  async admit(slot: number, params: ResolvedSampling, promptTokenIds: ArrayLike<number>, outputTokenIds: ArrayLike<number> = []): Promise<void> {
    this.checkSlot(slot);
    this.pending.delete(slot);
    if (!params.usesPenalties) return;
    if (!this.opts.penalties) throw new WgllmError('unsupported', 'this Sampler was created without penalty state (penalties: false)');
    this.pending.set(slot, { prompt: promptTokenIds, output: outputTokenIds });
    let entries = 0;
    for (const p of this.pending.values()) entries += p.prompt.length + p.output.length;
    if (entries > this.admitCapacity) await this.growAdmit(Math.max(entries, 2 * this.admitCapacity));
  }

  private async growAdmit(capacity: number): Promise<void> {
    const S = this.opts.maxNumSeqs;
    const old = this.admitBuf;
    this.admitCapacity = capacity;
    this.admitHost = new Uint32Array(S + 2 * capacity);
    this.admitBuf = createBuffer(this.ctx, this.admitHost.byteLength, 'sampling:admit');
    const bufs = { admit: this.admitBuf, counts: this.counts };
    const [clear, fill] = await Promise.all([
      KernelDispatch.create(this.ctx, samplingClearSpec, this.admitShape, samplingClearSpec.defaultConfig(this.admitShape, this.ctx.info), bufs),
      KernelDispatch.create(this.ctx, samplingFillSpec, this.admitShape, samplingFillSpec.defaultConfig(this.admitShape, this.ctx.info), bufs),
    ]);
    this.clear?.destroy();
    this.fill?.destroy();
    this.clear = clear;
    this.fill = fill;
    old.destroy();
  }

  private checkSlot(slot: number): void {
    if (!Number.isInteger(slot) || slot < 0 || slot >= this.opts.maxNumSeqs) {
      throw new WgllmError('invalid_argument', `sampler slot ${slot} is outside [0, ${this.opts.maxNumSeqs})`);
    }
  }

  /** Packs and uploads one step: its rows (row r samples logits row r) and pending admissions. */
  prepare(rows: readonly SamplingRow[]): void {
    const S = this.opts.maxNumSeqs;
    if (rows.length > S) throw new WgllmError('invalid_argument', `${rows.length} rows in a step, more than maxNumSeqs ${S}`);
    this.seen.fill(0);
    for (let r = 0; r < rows.length; r++) {
      const { slot, params } = rows[r]!;
      this.checkSlot(slot);
      if (this.seen[slot]) throw new WgllmError('invalid_argument', `slot ${slot} appears twice in one sampling step`);
      this.seen[slot] = 1;
      if (params.usesPenalties && !this.opts.penalties) {
        throw new WgllmError('unsupported', 'a request uses penalties but this Sampler was created with penalties: false');
      }
      this.tops[r] = params.logprobs;
    }
    const nb = packRows(rows, this.metaU32, this.metaF32, S * ROW_WORDS, this.opts.maxLogitBias);
    writeBuffer(this.ctx, this.meta, 0, this.metaU32.subarray(0, rows.length * ROW_WORDS));
    if (nb > 0) writeBuffer(this.ctx, this.meta, S * ROW_WORDS * 4, this.metaU32.subarray(S * ROW_WORDS, S * ROW_WORDS + 2 * nb));
    this.shape.numRows = rows.length;
    for (const kd of this.samplers.values()) kd.setShape(this.shape);
    this.prepareAdmissions();
  }

  private prepareAdmissions(): void {
    const numClear = this.pending.size;
    let e = numClear;
    let k = 0;
    for (const [slot, p] of this.pending) {
      this.admitHost[k++] = slot;
      for (let i = 0; i < p.prompt.length; i++) {
        this.admitHost[e++] = slot;
        this.admitHost[e++] = p.prompt[i]! >>> 0;
      }
      for (let i = 0; i < p.output.length; i++) {
        this.admitHost[e++] = slot;
        this.admitHost[e++] = (p.output[i]! | ADMIT_OUTPUT_FLAG) >>> 0;
      }
    }
    this.pending.clear();
    this.admitReady = numClear > 0;
    if (!this.admitReady) return;
    this.admitShape.numClear = numClear;
    this.admitShape.numEntries = (e - numClear) / 2;
    if (e > 0) writeBuffer(this.ctx, this.admitBuf, 0, this.admitHost.subarray(0, e));
    this.clear.setShape(this.admitShape);
    this.fill.setShape(this.admitShape);
  }

  /** Uploads the (dst index in the next ids buffer, slot) pairs whose tokens `encodeFeed` copies. */
  prepareFeed(entries: readonly { dst: number; slot: number }[]): void {
    const S = this.opts.maxNumSeqs;
    if (entries.length > S) throw new WgllmError('invalid_argument', `${entries.length} feed entries, more than maxNumSeqs ${S}`);
    for (let j = 0; j < entries.length; j++) {
      const { dst, slot } = entries[j]!;
      this.checkSlot(slot);
      this.feedHost[2 * j] = dst;
      this.feedHost[2 * j + 1] = slot;
    }
    if (entries.length) writeBuffer(this.ctx, this.feedList, 0, this.feedHost.subarray(0, 2 * entries.length));
    this.feedShape.numFeeds = entries.length;
    for (const kd of this.feeds.values()) kd.setShape(this.feedShape);
  }

  /** Encodes the feed (ids[dst] = lastToken[slot]) into the pass, before the embedding reads `ids`. */
  encodeFeed(pass: GPUComputePassEncoder, ids: GPUBuffer): void {
    const kd = this.feeds.get(ids);
    if (!kd) throw new WgllmError('internal', 'Sampler.encodeFeed: call bindFeed(ids) once at setup');
    kd.encode(pass);
  }

  /** Encodes pending admissions and the sampling of the prepared rows from `logits`. */
  encode(pass: GPUComputePassEncoder, logits: GPUBuffer): void {
    const kd = this.samplers.get(logits);
    if (!kd) throw new WgllmError('internal', 'Sampler.encode: call bindLogits(logits) once at setup');
    if (this.admitReady) {
      // Once: a later step without admissions must not replay them. (Its uniforms stay as they
      // are: a writeBuffer now would land before this very dispatch runs.)
      this.admitReady = false;
      this.clear.encode(pass);
      this.fill.encode(pass);
    }
    kd.encode(pass);
  }

  /** Records the copy of the step's outputs to a staging buffer; `await handle.read()` after submit. */
  encodeReadback(enc: GPUCommandEncoder): SampleReadback {
    const rb = this.ring[this.ringNext]!;
    if (!rb.free) throw new WgllmError('internal', `all ${this.ring.length} sampler readbacks are in flight: read earlier steps first`);
    this.ringNext = (this.ringNext + 1) % this.ring.length;
    rb.encode(enc, { tokenIds: this.tokenIds, lpValues: this.lpValues, lpIds: this.lpIds }, this.shape.numRows, this.tops);
    return rb;
  }

  destroy(): void {
    for (const kd of [...this.samplers.values(), ...this.feeds.values()]) kd.destroy();
    this.clear?.destroy();
    this.fill?.destroy();
    for (const b of [this.meta, this.counts, this.work, this.tokenIds, this.lastToken, this.lpValues, this.lpIds, this.feedList, this.admitBuf]) b.destroy();
    for (const rb of this.ring) rb.destroy();
  }
}
