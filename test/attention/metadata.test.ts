import { describe, expect, it } from 'vitest';
import { isWgllmError } from '../../src/core/errors.js';
import { MetadataBuilder } from '../../src/attention/metadata.js';
import { planSplits, DEFAULT_SPLIT_POLICY } from '../../src/attention/split-plan.js';
import { PagedKVCache } from '../../src/attention/paged-kv-cache.js';
import { attentionTestGpu } from './gpu.js';
import { STORAGE_SLACK_BYTES } from '../../src/gpu/buffers.js';

const ctx = await attentionTestGpu();
const limits = { maxNumTokens: 16, maxNumSeqs: 4, maxBlocksPerSeq: 8 };

describe('MetadataBuilder', () => {
  it('packs a mixed step exactly: query starts, lengths, padded tables, slots', () => {
    const b = new MetadataBuilder(limits, 4, 20);
    const md = b.build({
      seqs: [
        { queryLen: 1, seqLen: 6, blockIds: [7, 3] }, // decode at position 5: block 3 row 1
        { queryLen: 3, seqLen: 5, blockIds: [9, 11, 2] }, // chunk at 2..4 over a prefix of 2
        { queryLen: 2, seqLen: 2, blockIds: [5] }, // new prompt
      ],
    });
    expect(md.step).toBe(1);
    expect([...md.queryStartLoc]).toEqual([0, 1, 4, 6]);
    expect([...md.seqLens]).toEqual([6, 5, 2]);
    expect(md.blockTableStride).toBe(2); // max ceil(seqLen / 4): the extra id of seq 1 is unused
    expect([...md.blockTables]).toEqual([7, 3, 9, 11, 5, 0]);
    expect([...md.slotMapping]).toEqual([3 * 4 + 1, 9 * 4 + 2, 9 * 4 + 3, 11 * 4 + 0, 5 * 4 + 0, 5 * 4 + 1]);
    expect([md.numTokens, md.numSeqs, md.maxQueryLen, md.maxSeqLen]).toEqual([6, 3, 3, 6]);
  });

  it('takes explicit slots (-1 = padding) and counts steps', () => {
    const b = new MetadataBuilder(limits, 4, 20);
    b.build({ seqs: [{ queryLen: 1, seqLen: 1, blockIds: [1] }] });
    const md = b.build({ seqs: [{ queryLen: 2, seqLen: 2, blockIds: [4] }], slotMapping: Int32Array.from([16, -1]) });
    expect(md.step).toBe(2);
    expect([...md.slotMapping]).toEqual([16, -1]);
  });

  it('rejects bad steps and leaves the previous metadata intact', () => {
    const b = new MetadataBuilder(limits, 4, 20);
    const ok = b.build({ seqs: [{ queryLen: 2, seqLen: 3, blockIds: [6] }] });
    const bad = [
      { seqs: [{ queryLen: 1, seqLen: 5, blockIds: [6] }] }, // too few blocks
      { seqs: [{ queryLen: 1, seqLen: 3, blockIds: [0] }] }, // null block
      { seqs: [{ queryLen: 1, seqLen: 3, blockIds: [20] }] }, // past the cache
      { seqs: [{ queryLen: 4, seqLen: 3, blockIds: [6] }] }, // more queries than tokens
      { seqs: [{ queryLen: 17, seqLen: 17, blockIds: [1, 2, 3, 4, 5] }] }, // > maxNumTokens
      { seqs: [{ queryLen: 1, seqLen: 40, blockIds: Array.from({ length: 10 }, (_, i) => i + 1) }] }, // > maxBlocksPerSeq
      { seqs: Array.from({ length: 5 }, () => ({ queryLen: 1, seqLen: 1, blockIds: [1] })) }, // > maxNumSeqs
      { seqs: [{ queryLen: 1, seqLen: 1, blockIds: [1] }], slotMapping: Int32Array.from([80]) }, // slot outside
    ];
    for (const step of bad) {
      let err: unknown;
      try {
        b.build(step);
      } catch (e) {
        err = e;
      }
      expect(isWgllmError(err, 'invalid_argument'), JSON.stringify(step.seqs[0])).toBe(true);
    }
    expect(b.currentStep).toBe(1);
    expect([...ok.slotMapping]).toEqual([6 * 4 + 1, 6 * 4 + 2]);
    expect([...ok.blockTables]).toEqual([6]);
  });
});

describe('planSplits', () => {
  const tile = { tq: 1, tk: 32 };
  it('splits long contexts with few sequences, in multiples of the key tile', () => {
    // the tiled grid: (1 tile + 1 sequence) x 8 kv heads = 16 workgroups, 16 splits reach 256
    const p = planSplits(DEFAULT_SPLIT_POLICY, { numTokens: 1, numSeqs: 1, maxSeqLen: 32768 }, 8, tile);
    expect(p.numSplits).toBe(16);
    expect(p.partitionSize % 32).toBe(0);
    expect(p.numSplits * p.partitionSize).toBeGreaterThanOrEqual(32768);
  });
  it('does not split short contexts, big steps, or when disabled', () => {
    expect(planSplits(DEFAULT_SPLIT_POLICY, { numTokens: 1, numSeqs: 1, maxSeqLen: 200 }, 8, tile).numSplits).toBe(1);
    expect(planSplits(DEFAULT_SPLIT_POLICY, { numTokens: 500, numSeqs: 2, maxSeqLen: 9000 }, 8, tile).numSplits).toBe(1);
    expect(planSplits({ ...DEFAULT_SPLIT_POLICY, enabled: false }, { numTokens: 1, numSeqs: 1, maxSeqLen: 9000 }, 8, tile).numSplits).toBe(1);
    // already enough workgroups
    expect(planSplits(DEFAULT_SPLIT_POLICY, { numTokens: 64, numSeqs: 64, maxSeqLen: 9000 }, 32, tile).numSplits).toBe(1);
  });
  it("counts the caller's workgroups per split when its grid is not the tiled kernel's", () => {
    // 16 decodes x 8 kv heads: the tiled grid has (16 + 16) x 8 = 256 workgroups (the target:
    // no split), the decode kernel's 16 x 8 = 128, so it splits in two.
    const step = { numTokens: 16, numSeqs: 16, maxSeqLen: 2048 };
    expect(planSplits(DEFAULT_SPLIT_POLICY, step, 8, tile).numSplits).toBe(1);
    const decode = planSplits(DEFAULT_SPLIT_POLICY, step, 8, tile, 16 * 8);
    expect(decode.numSplits).toBe(2);
    expect(decode.partitionSize * decode.numSplits).toBeGreaterThanOrEqual(2048);
  });
  it('cuts a long context below the target into pieces of at most maxPartitionSize keys', () => {
    // 16 x 8 = 128 workgroups: 2 splits reach the target, but 8192 keys make 4 pieces of 2048
    const p = planSplits(DEFAULT_SPLIT_POLICY, { numTokens: 16, numSeqs: 16, maxSeqLen: 8192 }, 8, tile, 128);
    expect(p).toEqual({ numSplits: 4, partitionSize: 2048 });
    // at the target already: one piece however long
    expect(planSplits(DEFAULT_SPLIT_POLICY, { numTokens: 32, numSeqs: 32, maxSeqLen: 8192 }, 8, tile, 256).numSplits).toBe(1);
  });
});

describe('PagedKVCache', () => {
  it('sizes itself from a byte budget and reserves the null block', async () => {
    const c = await PagedKVCache.create(ctx, { numLayers: 2, numKvHeads: 2, headDim: 16, blockSize: 16, dtype: 'f32', budgetBytes: 1 << 20 });
    // K + V, 2 layers, 16 tokens x 2 heads x 16 dims x 4 bytes = 8 KiB per block
    expect(c.bytesPerBlock).toBe(8192);
    expect(c.numBlocks).toBe(128);
    expect(c.capacityTokens).toBe(127 * 16);
    expect(c.layer(1).k.size).toBe(128 * 2048 + STORAGE_SLACK_BYTES); // the blocks, plus every storage buffer's slack
    c.dispose();
  });
  it('refuses budgets below two blocks and impossible geometry', async () => {
    await expect(PagedKVCache.create(ctx, { numLayers: 1, numKvHeads: 1, headDim: 16, dtype: 'f32', budgetBytes: 1000 })).rejects.toThrow(/at least 2/);
    await expect(PagedKVCache.create(ctx, { numLayers: 1, numKvHeads: 1, headDim: 18, dtype: 'f32', numBlocks: 4 })).rejects.toThrow(/multiple of 4/);
    await expect(PagedKVCache.create(ctx, { numLayers: 1, numKvHeads: 1, headDim: 16, dtype: 'f32', numBlocks: 1e9 })).rejects.toThrow(/largest storage buffer/);
  });
});
