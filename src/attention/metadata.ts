import { WgllmError } from '../core/errors.js';
import type { AttentionLimits, AttentionMetadata, AttentionPlan, StepBatch } from './types.js';

const NO_PLAN: AttentionPlan = { tiles: 'decode', kernel: 'tiled', numSplits: 1, partitionSize: 0 };

/**
 * Builds a step's metadata into host arrays preallocated for the maximum batch, so a step
 * allocates no typed arrays (only the small result object and views). Validates everything a
 * kernel would otherwise read out of bounds: bad input throws and changes nothing on the GPU.
 */
export class MetadataBuilder {
  private readonly queryStartLoc: Uint32Array; // [maxNumSeqs + 1]
  private readonly seqLens: Uint32Array; // [maxNumSeqs]
  private readonly blockTables: Uint32Array; // [maxNumSeqs * maxBlocksPerSeq] (packed per step)
  private readonly slotMapping: Int32Array; // [maxNumTokens]
  private step = 0;

  constructor(
    readonly limits: AttentionLimits,
    readonly blockSize: number,
    /** blocks in the cache: ids must be in 1 .. numBlocks-1 */
    readonly numBlocks: number,
  ) {
    for (const [k, v] of Object.entries(limits)) {
      if (!Number.isInteger(v) || v < 1) throw new WgllmError('invalid_argument', `attention limits: ${k} must be a positive integer, got ${v}`);
    }
    this.queryStartLoc = new Uint32Array(limits.maxNumSeqs + 1);
    this.seqLens = new Uint32Array(limits.maxNumSeqs);
    this.blockTables = new Uint32Array(limits.maxNumSeqs * limits.maxBlocksPerSeq);
    this.slotMapping = new Int32Array(limits.maxNumTokens);
  }

  get currentStep(): number {
    return this.step;
  }

  build(batch: StepBatch): AttentionMetadata {
    const { seqs } = batch;
    const { maxNumSeqs, maxNumTokens, maxBlocksPerSeq } = this.limits;
    const bs = this.blockSize;
    if (seqs.length > maxNumSeqs) throw new WgllmError('invalid_argument', `step has ${seqs.length} sequences, more than maxNumSeqs ${maxNumSeqs}`);
    let numTokens = 0;
    let maxQueryLen = 0;
    let maxSeqLen = 0;
    let stride = 1;
    for (const [i, s] of seqs.entries()) {
      if (!Number.isInteger(s.queryLen) || !Number.isInteger(s.seqLen) || s.queryLen < 0 || s.queryLen > s.seqLen) {
        throw new WgllmError('invalid_argument', `sequence ${i}: queryLen ${s.queryLen} / seqLen ${s.seqLen} are not 0 <= queryLen <= seqLen`);
      }
      const need = Math.ceil(s.seqLen / bs);
      if (need > maxBlocksPerSeq) throw new WgllmError('invalid_argument', `sequence ${i}: seqLen ${s.seqLen} needs ${need} blocks, more than maxBlocksPerSeq ${maxBlocksPerSeq}`);
      if (s.blockIds.length < need) throw new WgllmError('invalid_argument', `sequence ${i}: ${s.blockIds.length} blocks cannot hold ${s.seqLen} tokens of ${bs}`);
      for (let b = 0; b < need; b++) {
        const id = s.blockIds[b]!;
        if (!Number.isInteger(id) || id < 1 || id >= this.numBlocks) {
          throw new WgllmError('invalid_argument', `sequence ${i}: block id ${id} is not in 1 .. ${this.numBlocks - 1} (0 is the null block)`);
        }
      }
      numTokens += s.queryLen;
      maxQueryLen = Math.max(maxQueryLen, s.queryLen);
      maxSeqLen = Math.max(maxSeqLen, s.seqLen);
      stride = Math.max(stride, need);
    }
    if (numTokens > maxNumTokens) throw new WgllmError('invalid_argument', `step has ${numTokens} tokens, more than maxNumTokens ${maxNumTokens}`);
    if (batch.slotMapping) {
      if (batch.slotMapping.length !== numTokens) {
        throw new WgllmError('invalid_argument', `slotMapping has ${batch.slotMapping.length} entries for ${numTokens} tokens`);
      }
      for (const [t, slot] of batch.slotMapping.entries()) {
        if (!Number.isInteger(slot) || slot < -1 || slot >= this.numBlocks * bs) {
          throw new WgllmError('invalid_argument', `slotMapping[${t}] = ${slot} is outside the cache`);
        }
      }
    }
    // Everything is validated: from here on nothing throws, so a rejected step leaves the
    // previous step's metadata intact.
    const qsl = this.queryStartLoc;
    const bt = this.blockTables;
    qsl[0] = 0;
    for (const [i, s] of seqs.entries()) {
      qsl[i + 1] = qsl[i]! + s.queryLen;
      this.seqLens[i] = s.seqLen;
      const need = Math.ceil(s.seqLen / bs);
      const row = i * stride;
      for (let b = 0; b < need; b++) bt[row + b] = s.blockIds[b]!;
      bt.fill(0, row + need, row + stride);
      const first = s.seqLen - s.queryLen;
      for (let t = 0; t < s.queryLen; t++) {
        const pos = first + t;
        this.slotMapping[qsl[i]! + t] = bt[row + Math.floor(pos / bs)]! * bs + (pos % bs);
      }
    }
    if (batch.slotMapping) this.slotMapping.set(batch.slotMapping);
    this.step++;
    return {
      step: this.step,
      numSeqs: seqs.length,
      numTokens,
      maxQueryLen,
      maxSeqLen,
      queryStartLoc: qsl.subarray(0, seqs.length + 1),
      seqLens: this.seqLens.subarray(0, seqs.length),
      blockTables: bt.subarray(0, seqs.length * stride),
      blockTableStride: stride,
      slotMapping: this.slotMapping.subarray(0, numTokens),
      plan: NO_PLAN,
    };
  }
}

