import type { ActDType } from '../core/dtype.js';
import { Rng } from '../core/random.js';
import type { AttentionGeometry, PagedBatch, RowView } from '../core/reference/attention.js';
import type { DeviceInfo } from '../gpu/device-info.js';
import kvF32 from '../../shaders/attention-kv-f32.wgsl?raw';
import kvF16 from '../../shaders/attention-kv-f16.wgsl?raw';
import { actSupport, bucket, randomAct, zerosAct } from './common.js';
import type { HostTensors } from './spec.js';

/**
 * Shapes, tunables and test inputs shared by the paged-attention kernels (attention.ts,
 * attention-reduce.ts, kv-write.ts) and the attention backends (src/attention/).
 */

/** KV cache element type. 'f16' is stored as packed u32 pairs: it needs no `shader-f16`. */
export type KvDType = 'f32' | 'f16';
export const KV_LIBS: Record<KvDType, string> = { f32: kvF32, f16: kvF16 };
export const KV_BYTES: Record<KvDType, number> = { f32: 4, f16: 2 };
/** Head dims per 16-byte cache load in attention.wgsl (KV_CHUNK of the KV library). */
export const KV_CHUNK: Record<KvDType, number> = { f32: 4, f16: 8 };

/** The static part of an attention problem: one pipeline per value. */
export interface AttentionDims {
  act: ActDType;
  kv: KvDType;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  blockSize: number;
}

/** One sequence of a step: this step's queries and its total length (cached prefix + queries). */
export interface BatchSeq {
  queryLen: number;
  seqLen: number;
}

export interface PagedAttentionShape extends AttentionDims {
  seqs: BatchSeq[];
  /** 0 = off */
  softcap: number;
  /** 0 = off */
  slidingWindow: number;
  /** default 1/sqrt(headDim) */
  scale?: number;
  /** q is a view into a fused qkv buffer [numTokens, (numHeads + 2*numKvHeads) * headDim] */
  fusedQkv: boolean;
}

/** The split-KV kernel's problem: the partition size fixes the partials' layout, so it is shape. */
export interface PagedAttentionSplitShape extends PagedAttentionShape {
  partitionSize: number;
}

/** Tunables of attention.wgsl. */
export interface PagedAttentionConfig {
  /** queries per tile */
  tq: number;
  /** keys per tile */
  tk: number;
  /** invocations per workgroup */
  wg: number;
}

export const ATTN_UNIFORMS = {
  numTokens: 'u32',
  numSeqs: 'u32',
  maxBlocksPerSeq: 'u32',
  numKvHeads: 'u32',
  qOffset: 'u32',
  qStride: 'u32',
  scale: 'f32',
  softcap: 'f32',
  window: 'u32',
  partitionSize: 'u32',
} as const;

/** Rows per thread the shader's register arrays hold (MAX_ROWS in attention.wgsl). */
export const ATTN_MAX_ROWS = 16;
/** K/V vectors per invocation per key tile (MAX_LOADS in attention.wgsl). */
export const ATTN_MAX_LOADS = 16;

/** The values attention.wgsl derives from its overrides, and the workgroup memory they take. */
export function attentionLayout(d: Pick<AttentionDims, 'numHeads' | 'numKvHeads' | 'headDim'>, c: PagedAttentionConfig) {
  const G = d.numHeads / d.numKvHeads;
  const DV = d.headDim / 4;
  const R = c.tq * G;
  const NRS = Math.min(Math.floor(c.wg / c.tk), R);
  const SR = Math.ceil(R / Math.max(1, NRS));
  const NRO = Math.min(Math.floor(c.wg / DV), R);
  const OR = Math.ceil(R / Math.max(1, NRO));
  const RPAD = Math.max(SR * NRS, OR * NRO);
  const vec4s = RPAD * DV + c.tk * (DV + 1) + c.tk * DV;
  const wgBytes = 16 * vec4s + 4 * (2 * RPAD * c.tk + RPAD) + 16;
  return { G, DV, R, NRS, SR, NRO, OR, RPAD, wgBytes };
}

export function attentionConfigReasons(d: AttentionDims, c: PagedAttentionConfig, dev: DeviceInfo): string[] {
  const L = attentionLayout(d, c);
  const r: string[] = [];
  if (c.wg > dev.limits.maxComputeInvocationsPerWorkgroup || c.wg > dev.limits.maxComputeWorkgroupSizeX) r.push(`wg ${c.wg} over the device limit`);
  if (c.wg % c.tk !== 0) r.push(`wg ${c.wg} must be a multiple of tk ${c.tk}`);
  if (L.NRO < 1) r.push(`wg ${c.wg} must cover headDim/4 = ${L.DV} output lanes`);
  if (L.SR > ATTN_MAX_ROWS || L.OR > ATTN_MAX_ROWS) r.push(`tile of ${L.R} rows needs more than ${ATTN_MAX_ROWS} rows per thread at wg ${c.wg}`);
  if (Math.ceil((c.tk * d.headDim) / KV_CHUNK[d.kv] / c.wg) > ATTN_MAX_LOADS) r.push(`tk ${c.tk} x headDim ${d.headDim} needs more than ${ATTN_MAX_LOADS} loads per invocation at wg ${c.wg}`);
  if (L.wgBytes > dev.limits.maxComputeWorkgroupStorageSize) {
    r.push(`needs ${L.wgBytes} bytes of workgroup memory, the device has ${dev.limits.maxComputeWorkgroupStorageSize}`);
  }
  return r;
}

/** Reasons the static problem cannot run (independent of the tunables). */
export function attentionDimsReasons(d: AttentionDims, dev: DeviceInfo): string[] {
  const r = actSupport(d.act, dev);
  if (d.headDim % KV_CHUNK[d.kv] !== 0 || d.headDim < 4) r.push(`headDim ${d.headDim} must be a positive multiple of ${KV_CHUNK[d.kv]} (${d.kv} KV cache)`);
  if (d.numKvHeads < 1 || d.numHeads % d.numKvHeads !== 0) r.push(`numHeads ${d.numHeads} must be a multiple of numKvHeads ${d.numKvHeads}`);
  if (!Number.isInteger(d.blockSize) || d.blockSize < 1) r.push(`blockSize ${d.blockSize} must be a positive integer`);
  return r;
}

/**
 * (keys per tile, invocations) pairs tried with one query per tile: decodes. First is the default:
 * (16, 64) read KV fastest on an H200 at batch >= 4 (bench/results/attention-nvidia-h200.json).
 */
const DECODE_TILES: readonly [number, number][] = [[16, 64], [32, 128], [32, 64], [64, 128], [64, 256]];
/** (keys per tile, invocations) pairs tried with tiles of ~16 rows, and with ~32 rows: prefill (first: the default, best on an H200). */
const PREFILL16_TILES: readonly [number, number][] = [[32, 128], [16, 128]];
const PREFILL32_TILES: readonly [number, number][] = [[32, 256]];
/** Small key tiles for big heads where workgroup memory is short (e.g. headDim 256 on 32 KiB). */
const FALLBACK_TILES: readonly [number, number][] = [[8, 64], [4, 64], [4, 32]];

function tqForRows(rows: number, G: number): number {
  return Math.max(1, Math.min(16, Math.floor(rows / G)));
}

/**
 * The tile configs worth trying on this device: one query per tile (decode) with several key
 * tiles and workgroup sizes, and prefill tiles of ~16 and ~32 rows (vLLM's unified Triton kernel
 * uses 16). Kept small on purpose: each candidate is a pipeline to compile, and SwiftShader takes
 * seconds per attention pipeline. Small-key-tile fallbacks are added only when nothing else fits.
 */
export function attentionSpace(d: AttentionDims, dev: DeviceInfo): PagedAttentionConfig[] {
  const G = d.numHeads / d.numKvHeads;
  const groups: [number, readonly [number, number][]][] = [[1, DECODE_TILES]];
  for (const [rows, tiles] of [[16, PREFILL16_TILES], [32, PREFILL32_TILES]] as const) {
    const tq = tqForRows(rows, G);
    if (tq > 1 && !groups.some(([t]) => t === tq)) groups.push([tq, tiles]);
  }
  const out: PagedAttentionConfig[] = [];
  for (const [tq, tiles] of groups) {
    const fits = (tk: number, wg: number) => attentionConfigReasons(d, { tq, tk, wg }, dev).length === 0;
    let any = false;
    for (const [tk, wg] of tiles) {
      if (fits(tk, wg)) {
        out.push({ tq, tk, wg });
        any = true;
      }
    }
    const fb = any ? undefined : FALLBACK_TILES.find(([tk, wg]) => fits(tk, wg));
    if (fb) out.push({ tq, tk: fb[0], wg: fb[1] });
  }
  return out;
}

/**
 * Heuristic default: decodes (maxQueryLen 1) take one query per tile, so no row is padding;
 * prefill takes tiles of ~16 rows (fewer queries per tile when the batch's queries are short).
 */
export function attentionDefaultConfig(d: AttentionDims, maxQueryLen: number, dev: DeviceInfo): PagedAttentionConfig {
  const G = d.numHeads / d.numKvHeads;
  const space = attentionSpace(d, dev);
  const wantTq = maxQueryLen <= 1 ? 1 : Math.min(tqForRows(16, G), bucket(maxQueryLen));
  // The first candidate (in preference order) with the largest tq <= wantTq.
  let best: PagedAttentionConfig | undefined;
  for (const c of space) if (c.tq <= wantTq && (!best || c.tq > best.tq)) best = c;
  return best ?? space[0] ?? { tq: 1, tk: 4, wg: 32 };
}

export function attentionGrid(numTokens: number, numSeqs: number, numKvHeads: number, tq: number, numSplits = 1): [number, number, number] {
  return [Math.floor(numTokens / tq) + numSeqs, numKvHeads, numSplits];
}

export function qkvStride(d: Pick<AttentionDims, 'numHeads' | 'numKvHeads' | 'headDim'>): number {
  return (d.numHeads + 2 * d.numKvHeads) * d.headDim;
}

export function geometryOf(s: PagedAttentionShape): AttentionGeometry {
  return {
    numHeads: s.numHeads,
    numKvHeads: s.numKvHeads,
    headDim: s.headDim,
    blockSize: s.blockSize,
    scale: s.scale ?? 1 / Math.sqrt(s.headDim),
    softcap: s.softcap,
    slidingWindow: s.slidingWindow,
  };
}

export function batchStats(seqs: readonly BatchSeq[]) {
  let numTokens = 0;
  let maxSeqLen = 0;
  let maxQueryLen = 0;
  for (const s of seqs) {
    numTokens += s.queryLen;
    maxSeqLen = Math.max(maxSeqLen, s.seqLen);
    maxQueryLen = Math.max(maxQueryLen, s.queryLen);
  }
  return { numTokens, maxSeqLen, maxQueryLen, numSeqs: seqs.length };
}

export function qView(s: PagedAttentionShape): RowView {
  return { offset: 0, tokenStride: s.fusedQkv ? qkvStride(s) : s.numHeads * s.headDim };
}

/**
 * A batch with NON-contiguous, shuffled block tables: every sequence gets ceil(seqLen/blockSize)
 * distinct blocks drawn from a shuffled pool (block 0, the null block, is never handed out;
 * `extraBlocks` unused ones are mixed in). Table rows are padded with 0.
 */
export function makePagedBatch(seqs: readonly BatchSeq[], blockSize: number, rng: Rng, extraBlocks = 3) {
  const need = seqs.map((s) => Math.ceil(s.seqLen / blockSize));
  const stride = Math.max(1, ...need);
  const numBlocks = 1 + need.reduce((a, b) => a + b, 0) + extraBlocks;
  const pool = rng.shuffle(Array.from({ length: numBlocks - 1 }, (_, i) => i + 1));
  const { numTokens } = batchStats(seqs);
  const batch: PagedBatch = {
    numSeqs: seqs.length,
    numTokens,
    queryStartLoc: new Uint32Array(seqs.length + 1),
    seqLens: new Uint32Array(seqs.length),
    blockTables: new Uint32Array(seqs.length * stride),
    blockTableStride: stride,
  };
  let next = 0;
  seqs.forEach((s, i) => {
    batch.queryStartLoc[i + 1] = batch.queryStartLoc[i]! + s.queryLen;
    batch.seqLens[i] = s.seqLen;
    for (let b = 0; b < need[i]!; b++) batch.blockTables[i * stride + b] = pool[next++]!;
  });
  return { batch, numBlocks };
}

export function batchFromInputs(inputs: HostTensors, numTokens: number): PagedBatch {
  const bt = inputs.blockTables!;
  return {
    numSeqs: inputs.seqLens!.data.length,
    numTokens,
    queryStartLoc: inputs.queryStartLoc!.data as Uint32Array,
    seqLens: inputs.seqLens!.data as Uint32Array,
    blockTables: bt.data as Uint32Array,
    blockTableStride: bt.shape[1]!,
  };
}

/** Random q, a random paged cache (every block filled), the batch's metadata, zeroed out. */
export function makeAttentionInputs(s: PagedAttentionShape, seed: number): HostTensors {
  const rng = new Rng(seed);
  const { batch, numBlocks } = makePagedBatch(s.seqs, s.blockSize, rng);
  const cacheDims = [numBlocks, s.numKvHeads, s.blockSize, s.headDim];
  const kvAct: ActDType = s.kv;
  return {
    // q a bit larger than N(0,1) so that the softmax is peaked, not flat
    q: randomAct(rng, s.act, [batch.numTokens, qView(s).tokenStride], 1.5),
    kCache: randomAct(rng, kvAct, cacheDims),
    vCache: randomAct(rng, kvAct, cacheDims),
    blockTables: { dtype: 'u32', shape: [batch.numSeqs, batch.blockTableStride], data: batch.blockTables },
    queryStartLoc: { dtype: 'u32', shape: [batch.numSeqs + 1], data: batch.queryStartLoc },
    seqLens: { dtype: 'u32', shape: [batch.numSeqs], data: batch.seqLens },
    out: zerosAct(s.act, [batch.numTokens, s.numHeads, s.headDim]),
  };
}

export function attentionProblemKey(s: PagedAttentionShape): string {
  const b = batchStats(s.seqs);
  const opts = `${s.softcap > 0 ? '+cap' : ''}${s.slidingWindow > 0 ? '+win' : ''}`;
  return (
    `${s.act}/kv${s.kv}:h${s.numHeads}/${s.numKvHeads}:d${s.headDim}:bs${s.blockSize}${opts}` +
    `:seqs${bucket(b.numSeqs)}:q${bucket(b.maxQueryLen)}:ctx${bucket(b.maxSeqLen)}`
  );
}


/**
 * A random step: a mix of decodes (1 query over a context), new prompts (all queries, no prefix)
 * and chunked prefills (a chunk of queries over a cached prefix), in random order.
 */
export function randomSeqs(rng: Rng, o: { maxSeqs: number; maxCtx: number; maxChunk: number }): BatchSeq[] {
  const n = rng.int(1, o.maxSeqs);
  const seqs: BatchSeq[] = [];
  for (let i = 0; i < n; i++) {
    const kind = rng.pick(['decode', 'prompt', 'chunk'] as const);
    const seqLen = rng.int(1, kind === 'prompt' ? Math.min(o.maxCtx, o.maxChunk) : o.maxCtx);
    const queryLen = kind === 'decode' ? 1 : kind === 'prompt' ? seqLen : rng.int(1, Math.min(seqLen, o.maxChunk));
    seqs.push({ queryLen, seqLen });
  }
  return seqs;
}
