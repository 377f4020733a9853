import type { DeviceInfo } from '../gpu/device-info.js';
import type { ActDType } from '../core/dtype.js';
import type { ModelConfig } from '../core/model-config.js';
import { ropeCosSinForModel } from '../core/reference/rope.js';
import type { PagedKVCache } from '../attention/paged-kv-cache.js';
import type { GpuContext } from '../gpu/context.js';
import { createBuffer, STORAGE_SLACK_BYTES, uploadBuffer } from '../gpu/buffers.js';
import { pagedAttentionSpec } from '../kernels/attention.js';
import { attentionDecodeSpec } from '../kernels/attention-decode.js';
import { attentionTensorSpec } from '../kernels/attention-tensor.js';
import type { PagedAttentionShape } from '../kernels/attention-shape.js';
import { embeddingSpec, type EmbeddingShape } from '../kernels/embedding.js';
import { kvWriteSpec, type KvWriteShape } from '../kernels/kv-write.js';
import { createQuantizedX, type Int8Format } from '../kernels/int8-x.js';
import { KernelGroup } from '../kernels/launch.js';
import { GEMV_MAX_M } from '../kernels/matmul.js';
import { rmsnormQuantXSpec, rmsnormSpec, type RmsnormShape } from '../kernels/rmsnorm.js';
import { ropeSpec, type RopeShape } from '../kernels/rope.js';
import type { KernelSpec } from '../kernels/spec.js';
import { swigluQuantXSpec, swigluSpec, type SwigluShape } from '../kernels/swiglu.js';
import type { ConfigSource } from './config-source.js';
import { DEQUANT_MIN_M, F16WeightScratch, LinearGroup, producedXFormat, type LinearOptions } from './linear.js';
import type { RunnerLimits } from './runner.js';
import type { Linear, ModelWeights } from './weights.js';
import { XProducer, type QuantXVariant } from './x-producer.js';

/**
 * What a ModelRunner builds once at load: its activation buffers (sized for the largest step),
 * every kernel group bound to them, and the attention tile configs.
 */

export interface Activations {
  ids: GPUBuffer; // [maxNumTokens] u32
  positions: GPUBuffer; // [maxNumTokens] u32
  sampleRows: GPUBuffer; // [maxNumSeqs] u32
  cosSin: GPUBuffer; // [maxModelLen, rotaryDim / 2, 2] f32
  residual: GPUBuffer; // [maxNumTokens, hiddenSize] act
  normed: GPUBuffer; // [maxNumTokens, hiddenSize] act
  proj: GPUBuffer; // [maxNumTokens, hiddenSize] act: o_proj and down_proj outputs
  q: GPUBuffer; // fused: [maxNumTokens, qDim + 2 kvDim] act; else [maxNumTokens, qDim]
  k?: GPUBuffer; // separate only: [maxNumTokens, kvDim] act
  v?: GPUBuffer; // separate only: [maxNumTokens, kvDim] act
  attnOut: GPUBuffer; // [maxNumTokens, qDim] act
  gate: GPUBuffer; // fused: [maxNumTokens, 2 * intermediateSize] act; else [maxNumTokens, intermediateSize]
  up?: GPUBuffer; // separate only: [maxNumTokens, intermediateSize] act
  mlp: GPUBuffer; // [maxNumTokens, intermediateSize] act
  sampled: GPUBuffer; // [maxNumSeqs, hiddenSize] act
  logits: GPUBuffer; // [maxNumSeqs, vocabSize] act
}

export interface Kernels {
  embed: KernelGroup<EmbeddingShape, unknown>;
  // The producers of the linears' x, each with (where built) its variant that also quantizes x
  // for the int8 GEMVs after it (XProducer):
  normFirst: XProducer<RmsnormShape>; // member 0: layer 0's attn_norm on the embedding (-> q|k|v)
  ffnNorm: XProducer<RmsnormShape>; // residual += proj, members: ffn_norm[l] (-> gate|up)
  attnNorm: XProducer<RmsnormShape>; // residual += proj, members: attn_norm[l + 1], output_norm last (-> q|k|v, lm_head)
  qkv: LinearGroup[]; // [fused] or [q, k, v]
  qkNorm?: { q: KernelGroup<RmsnormShape, unknown>; k: KernelGroup<RmsnormShape, unknown> };
  rope: KernelGroup<RopeShape, unknown>[]; // [fused q+k] or [q, k]; [] where the KV write rotates
  o: LinearGroup;
  gateUp: LinearGroup[]; // [fused] or [gate, up]
  swiglu: XProducer<SwigluShape>; // (-> down)
  down: LinearGroup;
  gather: KernelGroup<EmbeddingShape, unknown>;
  lmHead: LinearGroup;
  /** scratch of x quantized by its producer ([min(maxNumTokens, GEMV_MAX_M), K/64] pairs: xq, xs), per role that has one */
  quantX: GPUBuffer[];
  /** f16 copy of one layer's quantized W for prompt-sized GEMMs (LinearOptions.dequant), where a linear takes it */
  wF16?: F16WeightScratch;
}

export interface KernelOptions {
  /** int8-dot GEMVs over quantized x (LinearOptions.int8; default: f16 activations only) */
  int8?: boolean;
  /** x's producers quantize it for the int8 GEMVs where those read it (default true; see RunnerOptions) */
  fuseQuantizeX?: boolean | 'norms';
  /** the attention's KV write rotates q and k (WgslAttentionBackend.appliesRope): no rope groups */
  ropeInAttention?: boolean;
  /** a fused gate|up's prefill-sized kernels apply SwiGLU themselves where they can (default true; see RunnerOptions) */
  fuseSwiglu?: boolean;
  /** prompt-sized GEMMs of quantized layers over an f16 copy of W (default true; see RunnerOptions) */
  prefillDequant?: boolean;
}

/**
 * The f16 copy of W that prompt-sized tensor-core GEMMs of quantized layers read (LinearOptions.
 * dequant), sized for the largest of the layers' quantized linears within the device's buffer
 * limits (the linears' tiers decide whether they take it; it is made only then); undefined where
 * no quantized linear fits.
 */
function f16WeightScratch(ctx: GpuContext, linears: readonly Linear[]): F16WeightScratch | undefined {
  // (the buffer is bound whole, with createBuffer's slack past the data)
  const cap = Math.min(ctx.info.limits.maxStorageBufferBindingSize, ctx.info.limits.maxBufferSize) - STORAGE_SLACK_BYTES;
  const sizes = linears.filter((l) => l.format !== 'f32' && l.format !== 'f16').map((l) => 2 * l.N * l.K).filter((b) => b <= cap);
  return sizes.length ? new F16WeightScratch(ctx, Math.max(...sizes)) : undefined;
}

export const ACT_BYTES: Record<ActDType, number> = { f32: 4, f16: 2 };

/**
 * Tile configs of the attention kernels, from the config source (tuned or default), for the
 * problems a step meets most: a batch of decodes, and a prompt chunk. Split-KV and its reduce
 * keep the backend's policy and defaults.
 */
export async function attentionConfigs(c: ModelConfig, act: ActDType, limits: RunnerLimits, cache: PagedKVCache, fusedQkv: boolean, configs: ConfigSource, dev: DeviceInfo) {
  const dims = { act, kv: cache.dtype, numHeads: c.numHeads, numKvHeads: c.numKvHeads, headDim: c.headDim, blockSize: cache.blockSize };
  const base = { ...dims, softcap: 0, slidingWindow: c.slidingWindow ?? 0, fusedQkv };
  const ctx = Math.min(1024, limits.maxModelLen);
  const chunk = Math.min(512, limits.maxNumTokens, limits.maxModelLen);
  const decode: PagedAttentionShape = { ...base, seqs: Array.from({ length: Math.min(16, limits.maxNumSeqs) }, () => ({ queryLen: 1, seqLen: ctx })) };
  const prefill: PagedAttentionShape = { ...base, seqs: [{ queryLen: chunk, seqLen: chunk }] };
  const kvWrite: KvWriteShape = { ...dims, numTokens: limits.maxNumTokens, numBlocks: cache.numBlocks, fusedQkv };
  const vecOk = attentionDecodeSpec.supports(decode, dev).length === 0;
  const tensorOk = attentionTensorSpec.supports(prefill, dev).length === 0;
  return {
    decode: await configs.get(pagedAttentionSpec, decode),
    decodeVec: vecOk ? await configs.get(attentionDecodeSpec, decode) : null,
    prefill: await configs.get(pagedAttentionSpec, prefill),
    prefillTensor: tensorOk ? await configs.get(attentionTensorSpec, prefill) : null,
    kvWrite: await configs.get(kvWriteSpec, kvWrite),
  };
}

export function embedShape(act: ActDType, w: ModelWeights, c: ModelConfig): Omit<EmbeddingShape, 'numTokens'> {
  return { act, table: w.embedding.table, hiddenSize: c.hiddenSize, vocabSize: c.vocabSize };
}

export function qkNormShapes(act: ActDType, c: ModelConfig, separate: boolean, T: number): [RmsnormShape, RmsnormShape] {
  const qDim = c.numHeads * c.headDim;
  const kvDim = c.numKvHeads * c.headDim;
  const stride = separate ? undefined : qDim + 2 * kvDim;
  const base = { act, mode: 'heads', rowLen: c.headDim, eps: c.rmsNormEps } as const;
  return [
    { ...base, numRows: T * c.numHeads, headsPerToken: c.numHeads, tokenStride: stride ?? qDim, headOffset: 0 },
    { ...base, numRows: T * c.numKvHeads, headsPerToken: c.numKvHeads, tokenStride: stride ?? kvDim, headOffset: separate ? 0 : qDim },
  ];
}

export function ropeShapes(act: ActDType, c: ModelConfig, separate: boolean, T: number, maxModelLen: number): RopeShape[] {
  const base = { act, style: c.ropeStyle, numTokens: T, headDim: c.headDim, rotaryDim: c.rotaryDim, numPositions: maxModelLen };
  if (!separate) return [{ ...base, numHeads: c.numHeads + c.numKvHeads, tokenStride: (c.numHeads + 2 * c.numKvHeads) * c.headDim }];
  return [
    { ...base, numHeads: c.numHeads, tokenStride: c.numHeads * c.headDim },
    { ...base, numHeads: c.numKvHeads, tokenStride: c.numKvHeads * c.headDim },
  ];
}

export function allocateActivations(
  ctx: GpuContext,
  c: ModelConfig,
  act: ActDType,
  limits: RunnerLimits,
  w: ModelWeights,
  owned: { destroy(): void }[],
): Activations {
  const T = limits.maxNumTokens;
  const S = limits.maxNumSeqs;
  const e = ACT_BYTES[act];
  const make = (bytes: number, label: string) => {
    const b = createBuffer(ctx, bytes, label);
    owned.push(b);
    return b;
  };
  const qDim = c.numHeads * c.headDim;
  const kvDim = c.numKvHeads * c.headDim;
  const fusedQkv = 'fused' in w.layers[0]!.qkv;
  const fusedGu = 'fused' in w.layers[0]!.gateUp;
  const cosSin = uploadBuffer(ctx, ropeCosSinForModel(c, limits.maxModelLen), 'rope:cosSin');
  owned.push(cosSin);
  return {
    ids: make(4 * T, 'ids'),
    positions: make(4 * T, 'positions'),
    sampleRows: make(4 * S, 'sampleRows'),
    cosSin,
    residual: make(e * T * c.hiddenSize, 'residual'),
    normed: make(e * T * c.hiddenSize, 'normed'),
    proj: make(e * T * c.hiddenSize, 'proj'),
    q: make(e * T * (fusedQkv ? qDim + 2 * kvDim : qDim), fusedQkv ? 'qkv' : 'q'),
    ...(fusedQkv ? {} : { k: make(e * T * kvDim, 'k'), v: make(e * T * kvDim, 'v') }),
    attnOut: make(e * T * qDim, 'attnOut'),
    gate: make(e * T * (fusedGu ? 2 : 1) * c.intermediateSize, fusedGu ? 'gateUp' : 'gate'),
    ...(fusedGu ? {} : { up: make(e * T * c.intermediateSize, 'up') }),
    mlp: make(e * T * c.intermediateSize, 'mlp'),
    sampled: make(e * S * c.hiddenSize, 'sampled'),
    logits: make(e * S * c.vocabSize, 'logits'),
  };
}

export async function buildKernels(
  ctx: GpuContext,
  c: ModelConfig,
  act: ActDType,
  limits: RunnerLimits,
  w: ModelWeights,
  b: Activations,
  configs: ConfigSource,
  opts: KernelOptions = {},
): Promise<Kernels> {
  const T = limits.maxNumTokens;
  const L = c.numLayers;
  const group = async <S, C>(spec: KernelSpec<S, C>, shape: S, members: Record<string, GPUBuffer>[], label?: string) =>
    (await KernelGroup.create(ctx, spec, shape, await configs.get(spec, shape), members, label)) as KernelGroup<S, unknown>;
  const layers = w.layers;
  const linOpts: LinearOptions = opts.int8 === undefined ? {} : { int8: opts.int8 };
  const l0 = layers[0]!;
  const qkvOf = (l: (typeof layers)[number]): Linear[] => ('fused' in l.qkv ? [l.qkv.fused] : [l.qkv.q, l.qkv.k, l.qkv.v]);
  const gateUpOf = (l: (typeof layers)[number]): Linear[] => ('fused' in l.gateUp ? [l.gateUp.fused] : [l.gateUp.gate, l.gateUp.up]);
  const wF16 = opts.prefillDequant === false ? undefined : f16WeightScratch(ctx, layers.flatMap((l) => [...qkvOf(l), l.o, ...gateUpOf(l), l.down]));
  // (lm_head stays off it: its GEMM takes at most maxNumSeqs rows)
  const dequant = wF16 ? { dequant: { scratch: wF16, minM: DEQUANT_MIN_M } } : {};
  const linear = (pick: (l: (typeof layers)[number]) => Linear, x: GPUBuffer, y: GPUBuffer, label: string, producedX?: ProducedX, more: LinearOptions = {}) =>
    LinearGroup.create(ctx, act, layers.map((l) => ({ linear: pick(l), x, y })), T, configs, label, {
      ...linOpts,
      ...dequant,
      ...(producedX ? { producedX: producedX.scratch } : {}),
      ...more,
    });

  // Where every linear reading one x (q|k|v, gate|up, down) takes one int8 format, x's producer
  // quantizes x for them: scratch for the most rows a GEMV takes, and the format to build for.
  const quantX: GPUBuffer[] = [];
  const fewRows = Math.min(GEMV_MAX_M, T); // the most rows a GEMV takes
  const fuse = opts.fuseQuantizeX ?? true;
  const produced = (linears: Linear[], K: number, label: string, by: 'rmsnorm' | 'swiglu'): ProducedX | undefined => {
    const wanted = fuse === true || (fuse === 'norms' && by === 'rmsnorm');
    const format = wanted ? producedXFormat(act, linears, T, ctx.info, linOpts) : undefined;
    if (!format) return undefined;
    const scratch = createQuantizedX(ctx, { M: fewRows, K }, `${label}:x`);
    quantX.push(scratch.xq, scratch.xs);
    return { format, scratch };
  };

  const fusedQkv = 'fused' in l0.qkv;
  const qkvX = produced(layers.flatMap(qkvOf), c.hiddenSize, 'qkv', 'rmsnorm');
  const qkv = fusedQkv
    ? [await linear((l) => (l.qkv as { fused: Linear }).fused, b.normed, b.q, 'qkv', qkvX)]
    : await Promise.all(
        (['q', 'k', 'v'] as const).map((n) =>
          linear((l) => (l.qkv as Record<'q' | 'k' | 'v', Linear>)[n], b.normed, n === 'q' ? b.q : n === 'k' ? b.k! : b.v!, n, qkvX),
        ),
      );
  let qkNorm: Kernels['qkNorm'];
  if (c.qkNorm) {
    const [qs, ks] = qkNormShapes(act, c, !fusedQkv, T);
    qkNorm = {
      q: await group(rmsnormSpec, qs, layers.map((l) => ({ weight: l.qNorm!.buffer, residual: b.q })), 'q_norm'),
      k: await group(rmsnormSpec, ks, layers.map((l) => ({ weight: l.kNorm!.buffer, residual: fusedQkv ? b.q : b.k! })), 'k_norm'),
    };
  }
  const ropeTargets = fusedQkv ? [b.q] : [b.q, b.k!];
  const rope = opts.ropeInAttention
    ? []
    : await Promise.all(
        ropeShapes(act, c, !fusedQkv, T, limits.maxModelLen).map((s, i) =>
          group(ropeSpec, s, [{ x: ropeTargets[i]!, positions: b.positions, cosSin: b.cosSin }], 'rope'),
        ),
      );
  const fusedGu = 'fused' in l0.gateUp;
  const guX = produced(layers.flatMap(gateUpOf), c.hiddenSize, 'gate_up', 'rmsnorm');
  const gateUp = fusedGu
    ? [await linear((l) => (l.gateUp as { fused: Linear }).fused, b.normed, b.gate, 'gate_up', guX, opts.fuseSwiglu === false ? {} : { glu: { y: b.mlp } })]
    : [
        await linear((l) => (l.gateUp as { gate: Linear }).gate, b.normed, b.gate, 'gate', guX),
        await linear((l) => (l.gateUp as { up: Linear }).up, b.normed, b.up!, 'up', guX),
      ];
  const downX = produced(layers.map((l) => l.down), c.intermediateSize, 'down', 'swiglu');
  const down = await linear((l) => l.down, b.mlp, b.proj, 'down', downX);

  // the producers: plain, and where x is quantized by them, the variant that does it
  const producer = async <S extends object>(
    spec: KernelSpec<S, unknown>,
    quantSpec: KernelSpec<S & { format: Int8Format }, unknown>,
    shape: S,
    /** the shape at the most rows the variant runs for (the GEMVs') */
    fewShape: S,
    members: Record<string, GPUBuffer>[],
    label: string,
    x: ProducedX | undefined,
    consumers: readonly LinearGroup[],
    quantMembers = members.length,
  ): Promise<XProducer<S>> => {
    const plain = await group(spec, shape, members, label);
    if (!x || quantMembers === 0) return new XProducer(plain);
    const qShape = { ...fewShape, format: x.format };
    const qMembers = members.slice(0, quantMembers).map((m) => ({ ...m, ...x.scratch }));
    const variant: QuantXVariant<S> = {
      group: await group(quantSpec, qShape, qMembers, `${label}:${quantSpec.id}`),
      format: x.format,
      consumers,
      member: (m) => (m < quantMembers ? m : undefined),
    };
    return new XProducer(plain, variant);
  };
  const normShape = (mode: 'plain' | 'residual', numRows = T): RmsnormShape => ({ act, mode, numRows, rowLen: c.hiddenSize, eps: c.rmsNormEps });
  const swigluShape = (numTokens: number): SwigluShape => ({ act, numTokens, intermediateSize: c.intermediateSize, fused: fusedGu });
  const norm = rmsnormSpec as KernelSpec<RmsnormShape, unknown>;
  const normQ = rmsnormQuantXSpec as unknown as KernelSpec<RmsnormShape & { format: Int8Format }, unknown>;
  const added = (weight: GPUBuffer) => ({ x: b.proj, weight, out: b.normed, residual: b.residual });
  const e = embedShape(act, w, c);
  return {
    embed: await group(embeddingSpec, { ...e, numTokens: T }, [{ ids: b.ids, weights: w.embedding.weight.buffer, out: b.residual }], 'embed'),
    normFirst: await producer(norm, normQ, normShape('plain'), normShape('plain', fewRows), [{ x: b.residual, weight: l0.attnNorm.buffer, out: b.normed }], 'attn_norm0', qkvX, qkv),
    ffnNorm: await producer(norm, normQ, normShape('residual'), normShape('residual', fewRows), layers.map((l) => added(l.ffnNorm.buffer)), 'ffn_norm', guX, gateUp),
    // the last member (output_norm) feeds lm_head, which quantizes x itself
    attnNorm: await producer(
      norm,
      normQ,
      normShape('residual'),
      normShape('residual', fewRows),
      layers.map((_, l) => added(l + 1 < L ? layers[l + 1]!.attnNorm.buffer : w.outputNorm.buffer)),
      'attn_norm',
      qkvX,
      qkv,
      L - 1,
    ),
    qkv,
    ...(qkNorm ? { qkNorm } : {}),
    rope,
    o: await linear((l) => l.o, b.attnOut, b.proj, 'o'),
    gateUp,
    swiglu: await producer(
      swigluSpec as KernelSpec<SwigluShape, unknown>,
      swigluQuantXSpec as KernelSpec<SwigluShape & { format: Int8Format }, unknown>,
      swigluShape(T),
      swigluShape(fewRows),
      [{ gate: b.gate, up: b.up ?? b.gate, out: b.mlp }],
      'swiglu',
      downX,
      [down],
    ),
    down,
    gather: await group(
      embeddingSpec,
      { act, table: act, numTokens: limits.maxNumSeqs, hiddenSize: c.hiddenSize, vocabSize: T },
      [{ ids: b.sampleRows, weights: b.normed, out: b.sampled }],
      'gather',
    ),
    lmHead: await LinearGroup.create(ctx, act, [{ linear: w.output, x: b.sampled, y: b.logits }], limits.maxNumSeqs, configs, 'lm_head', linOpts),
    quantX,
    ...(wF16 ? { wF16 } : {}),
  };
}

/** x quantized by its producer for one linear role: the GEMVs' weight format and the scratch. */
interface ProducedX {
  format: Int8Format;
  scratch: { xq: GPUBuffer; xs: GPUBuffer };
}
