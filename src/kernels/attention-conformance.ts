import type { ActDType } from '../core/dtype.js';
import type { Rng } from '../core/random.js';
import { pagedAttentionSpec, pagedAttentionSplitSpec } from './attention.js';
import { attentionDecodeSpec, attentionDecodeSplitSpec } from './attention-decode.js';
import { attentionReduceSpec, type AttentionReduceShape } from './attention-reduce.js';
import { attentionTensorSpec } from './attention-tensor.js';
import { randomSeqs, type BatchSeq, type KvDType, type PagedAttentionShape, type PagedAttentionSplitShape } from './attention-shape.js';
import { kvWriteSpec, type KvWriteShape } from './kv-write.js';
import { ropeKvWriteSpec, type RopeKvWriteShape } from './rope-kv-write.js';
import type { ConformanceFamily } from './conformance-family.js';

/**
 * The paged-attention families of the conformance suite (spread into FAMILIES in conformance.ts):
 * KV write, attention over mixed batches (decodes, chunked prefills over a cached prefix, new
 * prompts; shuffled block tables), the split-KV partials and their reduce. A representative set:
 * GQA 1/2/4/8, head sizes 16/64/80/128/256, block sizes 8/16/32, both KV dtypes, soft cap,
 * sliding window, fused qkv, one 2k-token context. The fuller randomized batches are in
 * test/kernels/attention.test.ts and test/attention/.
 * Few large static shapes: each is a pipeline, and SwiftShader (with Dawn's default toggles)
 * compiles a pipeline in time proportional to its workgroup memory (~4 ms per 16 bytes, so ~10 s
 * for a headDim-128 tile); random shapes and the config sweep use small heads.
 */

interface Dims {
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  blockSize: number;
  kv: KvDType;
}
const GQA4_D128: Dims = { numHeads: 8, numKvHeads: 2, headDim: 128, blockSize: 16, kv: 'f32' };
const MHA_D64_F16KV: Dims = { numHeads: 4, numKvHeads: 4, headDim: 64, blockSize: 16, kv: 'f16' };
const GQA8_D80_BS8: Dims = { numHeads: 8, numKvHeads: 1, headDim: 80, blockSize: 8, kv: 'f32' };
const GQA2_D256_BS32: Dims = { numHeads: 4, numKvHeads: 2, headDim: 256, blockSize: 32, kv: 'f16' };
const GQA2_D16: Dims = { numHeads: 2, numKvHeads: 1, headDim: 16, blockSize: 16, kv: 'f32' };
const GQA4_D32: Dims = { numHeads: 8, numKvHeads: 2, headDim: 32, blockSize: 16, kv: 'f16' };
const GQA8_D16: Dims = { numHeads: 8, numKvHeads: 1, headDim: 16, blockSize: 8, kv: 'f32' };
// f16 caches with head dims of whole 16-column slabs (the tensor-core kernel's)
const GQA4_D128_F16KV: Dims = { numHeads: 8, numKvHeads: 2, headDim: 128, blockSize: 16, kv: 'f16' };
const GQA8_D64_F16KV_BS8: Dims = { numHeads: 8, numKvHeads: 1, headDim: 64, blockSize: 8, kv: 'f16' };
const GQA3_D32_F16KV: Dims = { numHeads: 6, numKvHeads: 2, headDim: 32, blockSize: 16, kv: 'f16' };
const GQA2_D16_F16KV_BS32: Dims = { numHeads: 2, numKvHeads: 1, headDim: 16, blockSize: 32, kv: 'f16' };

const seqs = (...s: [number, number][]): BatchSeq[] => s.map(([queryLen, seqLen]) => ({ queryLen, seqLen }));
const attn = (act: ActDType, d: Dims, batch: BatchSeq[], extra: Partial<PagedAttentionShape> = {}): PagedAttentionShape => ({
  act,
  ...d,
  seqs: batch,
  softcap: 0,
  slidingWindow: 0,
  fusedQkv: false,
  ...extra,
});
const split = (act: ActDType, d: Dims, batch: BatchSeq[], partitionSize: number, extra: Partial<PagedAttentionShape> = {}): PagedAttentionSplitShape => ({
  ...attn(act, d, batch, extra),
  partitionSize,
});
/** A decode-only batch: one query per sequence over the given context lengths. */
const decodes = (...lens: number[]): BatchSeq[] => lens.map((seqLen) => ({ queryLen: 1, seqLen }));
const randomDecodes = (rng: Rng, maxSeqs: number, maxCtx: number): BatchSeq[] =>
  Array.from({ length: rng.int(1, maxSeqs) }, () => ({ queryLen: 1, seqLen: rng.int(1, maxCtx) }));
const describe = (d: Dims, b: BatchSeq[]) =>
  `h${d.numHeads}/${d.numKvHeads} d${d.headDim} bs${d.blockSize} kv ${d.kv} [${b.map((s) => `${s.queryLen}/${s.seqLen}`).join(' ')}]`;
const kvw = (act: ActDType, kv: KvDType, numTokens: number, headDim: number, blockSize: number, fusedQkv: boolean): KvWriteShape => ({
  act,
  kv,
  numTokens,
  numHeads: 8,
  numKvHeads: 2,
  headDim,
  blockSize,
  numBlocks: Math.ceil(numTokens / blockSize) + 2,
  fusedQkv,
});
// rope + kv write: heads as kvw's; a table shorter than some positions (clamped reads)
const rkv = (act: ActDType, kv: KvDType, numTokens: number, headDim: number, style: RopeKvWriteShape['style'], rotaryDim: number, numKvHeads = 2): RopeKvWriteShape => {
  const { fusedQkv: _f, ...k } = kvw(act, kv, numTokens, headDim, 16, true);
  return { ...k, numKvHeads, style, rotaryDim, numPositions: 300 };
};
const red = (act: ActDType, headDim: number, numRows: number, numSplits: number): AttentionReduceShape => ({ act, headDim, numRows, numSplits });

function randomExtra(rng: Rng): Partial<PagedAttentionShape> {
  return { softcap: rng.next() < 0.3 ? 30 : 0, slidingWindow: rng.next() < 0.3 ? rng.int(1, 100) : 0, fusedQkv: rng.next() < 0.5 };
}

export const ATTENTION_FAMILIES: ConformanceFamily[] = [
  {
    spec: kvWriteSpec,
    fixed: (act) => [
      { label: 'f32 KV, fused qkv, 57 tokens d64 bs16', shape: kvw(act, 'f32', 57, 64, 16, true) },
      { label: 'f16 KV, separate k/v, 13 tokens d80 bs8', shape: kvw(act, 'f16', 13, 80, 8, false) },
      { label: 'f16 KV, 1 token d16 bs32', shape: kvw(act, 'f16', 1, 16, 32, true) },
    ],
    random: (act, rng) => kvw(act, rng.pick(['f32', 'f16'] as const), rng.int(1, 200), 4 * rng.int(1, 64), rng.pick([8, 16, 32]), rng.next() < 0.5),
    small: (act) => kvw(act, 'f16', 20, 32, 16, true),
  },
  {
    spec: ropeKvWriteSpec,
    fixed: (act) => [
      { label: 'normal, f16 KV, 1 token d128 (decode, Llama)', shape: rkv(act, 'f16', 1, 128, 'normal', 128, 8) },
      { label: 'neox, f32 KV, 37 tokens d64', shape: rkv(act, 'f32', 37, 64, 'neox', 64) },
      { label: 'neox partial rotary 24 of d40, f16 KV, 9 tokens', shape: rkv(act, 'f16', 9, 40, 'neox', 24, 1) },
      { label: 'normal partial rotary 20 of d32, f32 KV, 70 tokens', shape: rkv(act, 'f32', 70, 32, 'normal', 20, 4) },
    ],
    random: (act, rng) => {
      const style = rng.pick(['normal', 'neox'] as const);
      const headDim = 8 * rng.int(1, 16);
      const unit = style === 'neox' ? 8 : 4;
      return rkv(act, rng.pick(['f32', 'f16'] as const), rng.int(1, 120), headDim, style, unit * rng.int(1, headDim / unit), rng.pick([1, 2, 4]));
    },
    small: (act) => rkv(act, 'f16', 20, 32, 'neox', 32),
  },
  {
    spec: pagedAttentionSpec,
    fixed: (act) => {
      const cases: [Dims, BatchSeq[], Partial<PagedAttentionShape>?][] = [
        // decode, a chunk over a cached prefix, a new prompt, a 1-token sequence
        [GQA4_D128, seqs([1, 300], [17, 90], [23, 23], [1, 1])],
        [MHA_D64_F16KV, seqs([5, 77], [1, 45], [30, 30]), { softcap: 30, slidingWindow: 40, fusedQkv: true }],
        [GQA8_D80_BS8, seqs([1, 9], [1, 200], [1, 64], [1, 1], [1, 130])],
        [GQA2_D256_BS32, seqs([9, 70], [1, 129])],
        [GQA2_D16, seqs([1, 2048])],
      ];
      return cases.map(([d, b, extra]) => ({ label: describe(d, b) + (extra ? ` ${JSON.stringify(extra)}` : ''), shape: attn(act, d, b, extra) }));
    },
    random: (act, rng) => attn(act, rng.pick([GQA4_D32, GQA2_D16]), randomSeqs(rng, { maxSeqs: 4, maxCtx: 300, maxChunk: 24 }), randomExtra(rng)),
    small: (act) => attn(act, GQA8_D16, seqs([1, 40], [6, 20], [1, 1])),
  },
  {
    // f16 activations and cache only (elsewhere every case reports why it is skipped)
    spec: attentionTensorSpec,
    fixed: (act) => {
      const cases: [Dims, BatchSeq[], Partial<PagedAttentionShape>?][] = [
        // Llama-3.1-8B's heads: decodes, a chunk over a cached prefix, new prompts (one past 32 queries)
        [GQA4_D128_F16KV, seqs([1, 300], [17, 90], [23, 23], [1, 1], [40, 40])],
        [MHA_D64_F16KV, seqs([5, 77], [1, 45], [30, 30]), { softcap: 30, slidingWindow: 40, fusedQkv: true }],
        [GQA8_D64_F16KV_BS8, seqs([33, 200], [16, 16])],
        [GQA3_D32_F16KV, seqs([50, 70], [7, 7]), { slidingWindow: 20 }],
        [GQA2_D16_F16KV_BS32, seqs([20, 1500])],
        // scores spread wide (scale ~20x the usual): logits tens of units apart, rows' maxima
        // growing over the keys, probabilities near f16's smallest
        [GQA4_D128_F16KV, seqs([70, 70], [40, 300]), { scale: 2 }],
        [GQA3_D32_F16KV, seqs([64, 64]), { scale: 4 }],
      ];
      return cases.map(([d, b, extra]) => ({ label: describe(d, b) + (extra ? ` ${JSON.stringify(extra)}` : ''), shape: attn(act, d, b, extra) }));
    },
    random: (act, rng) => attn(act, rng.pick([GQA4_D32, MHA_D64_F16KV, GQA3_D32_F16KV]), randomSeqs(rng, { maxSeqs: 4, maxCtx: 300, maxChunk: 40 }), randomExtra(rng)),
    small: (act) => attn(act, GQA4_D32, seqs([20, 40], [1, 9], [3, 3])),
  },
  {
    spec: pagedAttentionSplitSpec,
    fixed: (act) => [
      { label: `${describe(GQA4_D128, seqs([1, 700], [1, 90]))} p256`, shape: split(act, GQA4_D128, seqs([1, 700], [1, 90]), 256) },
      {
        label: `${describe(GQA2_D16, seqs([5, 1500], [1, 2048]))} p512 window 300`,
        shape: split(act, GQA2_D16, seqs([5, 1500], [1, 2048]), 512, { slidingWindow: 300 }),
      },
    ],
    random: (act, rng) =>
      split(act, rng.pick([GQA4_D32, GQA2_D16]), randomSeqs(rng, { maxSeqs: 3, maxCtx: 600, maxChunk: 6 }), rng.pick([64, 128, 256]), randomExtra(rng)),
    small: (act) => split(act, GQA8_D16, seqs([1, 100], [3, 50]), 32),
  },
  {
    spec: attentionDecodeSpec,
    fixed: (act) => {
      const cases: [Dims, BatchSeq[], Partial<PagedAttentionShape>?][] = [
        [GQA4_D128, decodes(300, 1, 17, 90, 33)],
        [MHA_D64_F16KV, decodes(77, 45, 30, 1), { softcap: 30, slidingWindow: 40, fusedQkv: true }],
        [GQA8_D80_BS8, decodes(9, 200, 64, 1, 130)],
        [GQA2_D256_BS32, decodes(70, 129)],
        [GQA2_D16, decodes(2048, 5)],
      ];
      return cases.map(([d, b, extra]) => ({ label: describe(d, b) + (extra ? ` ${JSON.stringify(extra)}` : ''), shape: attn(act, d, b, extra) }));
    },
    random: (act, rng) => attn(act, rng.pick([GQA4_D32, GQA2_D16, GQA8_D16]), randomDecodes(rng, 6, 700), randomExtra(rng)),
    small: (act) => attn(act, GQA4_D32, decodes(40, 1, 75)),
  },
  {
    spec: attentionDecodeSplitSpec,
    fixed: (act) => [
      { label: `${describe(GQA4_D128, decodes(700, 90))} p256`, shape: split(act, GQA4_D128, decodes(700, 90), 256) },
      { label: `${describe(MHA_D64_F16KV, decodes(1500, 33, 2048))} p512 window 300`, shape: split(act, MHA_D64_F16KV, decodes(1500, 33, 2048), 512, { slidingWindow: 300 }) },
    ],
    random: (act, rng) => split(act, rng.pick([GQA4_D32, GQA2_D16]), randomDecodes(rng, 4, 900), rng.pick([64, 100, 256]), randomExtra(rng)),
    small: (act) => split(act, GQA8_D16, decodes(100, 7), 32),
  },
  {
    spec: attentionReduceSpec,
    fixed: (act) => [
      { label: 'd16 1 row 1 split', shape: red(act, 16, 1, 1) },
      { label: 'd128 37 rows 5 splits', shape: red(act, 128, 37, 5) },
      { label: 'd80 13 rows 32 splits', shape: red(act, 80, 13, 32) },
    ],
    random: (act, rng) => red(act, 4 * rng.int(1, 64), rng.int(1, 100), rng.int(1, 40)),
    small: (act) => red(act, 64, 9, 3),
  },
];
