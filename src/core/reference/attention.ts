/**
 * CPU paged attention, KV write and split-KV partials: the truth the WGSL kernels (and the CPU
 * attention backend) are checked against. Accumulates in f64. Plain data in, plain data out.
 *
 * KV cache layout, per layer and for K and V alike (see shaders/attention.wgsl for why):
 *   [numBlocks, numKvHeads, blockSize, headDim]
 * A token at position p of a sequence lives in block blockTable[p / blockSize], row p % blockSize.
 */

/** One step's batch as the kernels see it (host arrays). */
export interface PagedBatch {
  numSeqs: number;
  numTokens: number;
  /** [numSeqs + 1] u32: queries of sequence s are rows queryStartLoc[s] .. queryStartLoc[s+1] */
  queryStartLoc: Uint32Array;
  /** [numSeqs] u32: tokens of the sequence including this step's */
  seqLens: Uint32Array;
  /** [numSeqs, blockTableStride] u32 block ids (padded with the null block 0) */
  blockTables: Uint32Array;
  blockTableStride: number;
}

export interface AttentionGeometry {
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  blockSize: number;
  /** softmax scale (1/sqrt(headDim) by default) */
  scale: number;
  /** logit soft cap: s = cap * tanh(s / cap); 0 = off */
  softcap: number;
  /** attend only to the last `slidingWindow` positions (key > pos - window); 0 = off */
  slidingWindow: number;
}

/** Where one token's heads sit in a (possibly fused) activation buffer, in elements. */
export interface RowView {
  offset: number;
  tokenStride: number;
}

/** Masked/empty sentinel for the running max (finite: WGSL promises nothing about infinities). */
export const ATTN_MASKED = -3.0e38;

export function cacheIndex(g: AttentionGeometry, block: number, kvHead: number, row: number): number {
  return ((block * g.numKvHeads + kvHead) * g.blockSize + row) * g.headDim;
}

/** The element index of key/value position `pos` of sequence `s`, head `h`, dim 0. */
function keyIndex(b: PagedBatch, g: AttentionGeometry, s: number, pos: number, h: number): number {
  const block = b.blockTables[s * b.blockTableStride + Math.floor(pos / g.blockSize)]!;
  return cacheIndex(g, block, h, pos % g.blockSize);
}

function logit(q: Float32Array, qi: number, k: Float32Array, ki: number, g: AttentionGeometry): number {
  let s = 0;
  for (let d = 0; d < g.headDim; d++) s += q[qi + d]! * k[ki + d]!;
  s *= g.scale;
  if (g.softcap > 0) s = g.softcap * Math.tanh(s / g.softcap);
  return s;
}

/** Keys [lo, hi) that query position `pos` attends to (causal, optional sliding window). */
function keyRange(pos: number, g: AttentionGeometry): [number, number] {
  return [g.slidingWindow > 0 ? Math.max(0, pos - g.slidingWindow + 1) : 0, pos + 1];
}

/**
 * Paged attention over a batch; q [numTokens, ...] read through `qView` (heads at
 * offset + t * tokenStride + h * headDim). Returns out [numTokens, numHeads, headDim].
 */
export function pagedAttentionRef(
  q: Float32Array,
  qView: RowView,
  kCache: Float32Array,
  vCache: Float32Array,
  b: PagedBatch,
  g: AttentionGeometry,
  round: (v: number) => number = Math.fround,
): Float32Array {
  const D = g.headDim;
  const G = g.numHeads / g.numKvHeads;
  const out = new Float32Array(b.numTokens * g.numHeads * D);
  const acc = new Float64Array(D);
  for (let s = 0; s < b.numSeqs; s++) {
    const q0 = b.queryStartLoc[s]!;
    const ql = b.queryStartLoc[s + 1]! - q0;
    const seqLen = b.seqLens[s]!;
    for (let i = 0; i < ql; i++) {
      const t = q0 + i;
      const [lo, hi] = keyRange(seqLen - ql + i, g);
      for (let h = 0; h < g.numHeads; h++) {
        const kvh = Math.floor(h / G);
        const qi = qView.offset + t * qView.tokenStride + h * D;
        const scores = new Float64Array(hi - lo);
        let m = -Infinity;
        for (let p = lo; p < hi; p++) {
          scores[p - lo] = logit(q, qi, kCache, keyIndex(b, g, s, p, kvh), g);
          m = Math.max(m, scores[p - lo]!);
        }
        acc.fill(0);
        let l = 0;
        for (let p = lo; p < hi; p++) {
          const w = Math.exp(scores[p - lo]! - m);
          l += w;
          const vi = keyIndex(b, g, s, p, kvh);
          for (let d = 0; d < D; d++) acc[d] = acc[d]! + w * vCache[vi + d]!;
        }
        const oi = (t * g.numHeads + h) * D;
        for (let d = 0; d < D; d++) out[oi + d] = round(acc[d]! / l);
      }
    }
  }
  return out;
}

/**
 * Split-KV partials: for split sp the keys [sp * partitionSize, (sp + 1) * partitionSize) of each
 * query. m is the max logit in log2 units (logit * log2(e)), l = sum 2^(logit*log2e - m),
 * o = sum 2^(...) * v (unnormalized). Empty: m = ATTN_MASKED, l = 0, o = 0.
 * Returns partOut [numSplits, numTokens, numHeads, headDim], partMl [numSplits, numTokens, numHeads, 2].
 */
export function splitPartialsRef(
  q: Float32Array,
  qView: RowView,
  kCache: Float32Array,
  vCache: Float32Array,
  b: PagedBatch,
  g: AttentionGeometry,
  numSplits: number,
  partitionSize: number,
): { partOut: Float32Array; partMl: Float32Array } {
  const D = g.headDim;
  const G = g.numHeads / g.numKvHeads;
  const rows = b.numTokens * g.numHeads;
  const partOut = new Float32Array(numSplits * rows * D);
  const partMl = new Float32Array(numSplits * rows * 2);
  for (let s = 0; s < b.numSeqs; s++) {
    const q0 = b.queryStartLoc[s]!;
    const ql = b.queryStartLoc[s + 1]! - q0;
    for (let i = 0; i < ql; i++) {
      const t = q0 + i;
      const [lo, hi] = keyRange(b.seqLens[s]! - ql + i, g);
      for (let h = 0; h < g.numHeads; h++) {
        const kvh = Math.floor(h / G);
        const qi = qView.offset + t * qView.tokenStride + h * D;
        for (let sp = 0; sp < numSplits; sp++) {
          const row = sp * rows + t * g.numHeads + h;
          const a = Math.max(lo, sp * partitionSize);
          const e = Math.min(hi, (sp + 1) * partitionSize);
          if (a >= e) {
            partMl[2 * row] = ATTN_MASKED;
            continue;
          }
          const scores: number[] = [];
          for (let p = a; p < e; p++) scores.push(logit(q, qi, kCache, keyIndex(b, g, s, p, kvh), g) * Math.LOG2E);
          const m = Math.max(...scores);
          let l = 0;
          const o = new Float64Array(D);
          for (let p = a; p < e; p++) {
            const w = 2 ** (scores[p - a]! - m);
            l += w;
            const vi = keyIndex(b, g, s, p, kvh);
            for (let d = 0; d < D; d++) o[d] = o[d]! + w * vCache[vi + d]!;
          }
          partOut.set(o, row * D);
          partMl[2 * row] = m;
          partMl[2 * row + 1] = l;
        }
      }
    }
  }
  return { partOut, partMl };
}

/** Combines split partials into out [numRows, headDim] (numRows = numTokens * numHeads). */
export function reduceSplitsRef(
  partOut: Float32Array,
  partMl: Float32Array,
  numSplits: number,
  numRows: number,
  headDim: number,
  round: (v: number) => number = Math.fround,
): Float32Array {
  const out = new Float32Array(numRows * headDim);
  for (let r = 0; r < numRows; r++) {
    let M = ATTN_MASKED;
    for (let sp = 0; sp < numSplits; sp++) M = Math.max(M, partMl[2 * (sp * numRows + r)]!);
    let L = 0;
    const acc = new Float64Array(headDim);
    for (let sp = 0; sp < numSplits; sp++) {
      const i = sp * numRows + r;
      const m = partMl[2 * i]!;
      if (m <= ATTN_MASKED / 2) continue;
      const w = 2 ** (m - M);
      L += partMl[2 * i + 1]! * w;
      for (let d = 0; d < headDim; d++) acc[d] = acc[d]! + partOut[i * headDim + d]! * w;
    }
    for (let d = 0; d < headDim; d++) out[r * headDim + d] = round(L > 0 ? acc[d]! / L : 0);
  }
  return out;
}

type KvGeometry = Pick<AttentionGeometry, 'numKvHeads' | 'headDim' | 'blockSize'>;

/**
 * Writes k/v rows [numTokens, numKvHeads, headDim] (read through their views) to the cache slots
 * in `slotMapping` (slot = block * blockSize + row; -1 = skip), in place. `round` models the
 * cache storage type.
 */
export function kvWriteInto(
  k: Float32Array,
  kView: RowView,
  v: Float32Array,
  vView: RowView,
  slotMapping: Int32Array,
  kCache: Float32Array,
  vCache: Float32Array,
  g: KvGeometry,
  round: (v: number) => number = Math.fround,
): void {
  const D = g.headDim;
  for (let t = 0; t < slotMapping.length; t++) {
    const slot = slotMapping[t]!;
    if (slot < 0) continue;
    const block = Math.floor(slot / g.blockSize);
    for (let h = 0; h < g.numKvHeads; h++) {
      const dst = ((block * g.numKvHeads + h) * g.blockSize + (slot % g.blockSize)) * D;
      for (let d = 0; d < D; d++) {
        kCache[dst + d] = round(k[kView.offset + t * kView.tokenStride + h * D + d]!);
        vCache[dst + d] = round(v[vView.offset + t * vView.tokenStride + h * D + d]!);
      }
    }
  }
}

/** kvWriteInto on copies of the caches; returns the updated copies. */
export function kvWriteRef(
  k: Float32Array,
  kView: RowView,
  v: Float32Array,
  vView: RowView,
  slotMapping: Int32Array,
  kCache: Float32Array,
  vCache: Float32Array,
  g: KvGeometry,
  round: (v: number) => number = Math.fround,
): { kCache: Float32Array; vCache: Float32Array } {
  const kc = Float32Array.from(kCache);
  const vc = Float32Array.from(vCache);
  kvWriteInto(k, kView, v, vView, slotMapping, kc, vc, g, round);
  return { kCache: kc, vCache: vc };
}
