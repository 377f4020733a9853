import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/core/random.js';
import { runConformanceCase, type ConformanceCase } from '../../src/kernels/conformance.js';
import { pagedAttentionSpec, pagedAttentionSplitSpec } from '../../src/kernels/attention.js';
import { attentionReduceSpec } from '../../src/kernels/attention-reduce.js';
import { attentionSpace, randomSeqs, type KvDType, type PagedAttentionShape } from '../../src/kernels/attention-shape.js';
import { kvWriteSpec } from '../../src/kernels/kv-write.js';
import type { AnyKernelSpec } from '../../src/kernels/spec.js';
import { attentionTestGpu } from '../attention/gpu.js';

// Randomized batches for the paged-attention kernels against the CPU reference: mixes of new
// prompts, chunked prefills over a cached prefix and decodes, with shuffled non-contiguous block
// tables (makeAttentionInputs), GQA ratios 1/2/4/8, head sizes 16..256, contexts 1..~3k.
// f32 activations here (SwiftShader has no shader-f16); both KV dtypes.
const ctx = await attentionTestGpu();
const rng = new Rng(20261122);

async function check(spec: AnyKernelSpec, shape: unknown, label: string, config?: unknown) {
  const c: ConformanceCase = { kernel: spec.id, act: 'f32', label, spec, shape, seed: rng.int(0, 2 ** 31), ...(config ? { config } : {}) };
  const r = await runConformanceCase(ctx, c);
  expect(r.skipped ?? '', 'skipped').toBe('');
  expect(r.error ?? '', `${label}: max |err| ${r.maxAbsErr}`).toBe('');
}

interface Dims {
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  blockSize: number;
  kv: KvDType;
}
// (GQA ratio, head size) pairs covering 1/2/4/8 and 16..256; block sizes 8/16/32.
const DIMS: Dims[] = [
  { numHeads: 4, numKvHeads: 4, headDim: 64, blockSize: 16, kv: 'f32' },
  { numHeads: 8, numKvHeads: 4, headDim: 128, blockSize: 16, kv: 'f16' },
  { numHeads: 8, numKvHeads: 2, headDim: 96, blockSize: 8, kv: 'f32' },
  { numHeads: 16, numKvHeads: 2, headDim: 32, blockSize: 32, kv: 'f16' },
  { numHeads: 2, numKvHeads: 1, headDim: 16, blockSize: 16, kv: 'f32' },
  { numHeads: 4, numKvHeads: 2, headDim: 256, blockSize: 16, kv: 'f32' },
  { numHeads: 8, numKvHeads: 1, headDim: 80, blockSize: 16, kv: 'f16' },
];

const shapeOf = (d: Dims, seqs: PagedAttentionShape['seqs'], extra: Partial<PagedAttentionShape> = {}): PagedAttentionShape => ({
  act: 'f32',
  ...d,
  seqs,
  softcap: 0,
  slidingWindow: 0,
  fusedQkv: false,
  ...extra,
});

const label = (d: Dims, seqs: PagedAttentionShape['seqs']) =>
  `h${d.numHeads}/${d.numKvHeads} d${d.headDim} bs${d.blockSize} kv ${d.kv}: ${seqs.map((s) => `${s.queryLen}/${s.seqLen}`).join(' ')}`;

describe('attention.paged on random mixed batches', () => {
  for (const d of DIMS) {
    it(`h${d.numHeads}/${d.numKvHeads} d${d.headDim} bs${d.blockSize} kv ${d.kv}`, async () => {
      const small = d.headDim >= 128 ? 0.5 : 1; // keep SwiftShader time down for big heads
      for (let i = 0; i < 3; i++) {
        const seqs = randomSeqs(rng, { maxSeqs: 6, maxCtx: Math.round(400 * small), maxChunk: Math.round(48 * small) });
        const opts = i === 2 ? { softcap: 30, slidingWindow: rng.int(1, 64), fusedQkv: true } : { fusedQkv: i === 1 };
        await check(pagedAttentionSpec, shapeOf(d, seqs, opts), label(d, seqs));
      }
      // decode-only batch (the decode tile config)
      const decodes = Array.from({ length: 5 }, () => ({ queryLen: 1, seqLen: rng.int(1, 300) }));
      await check(pagedAttentionSpec, shapeOf(d, decodes), label(d, decodes));
    });
  }

  it('long contexts: one sequence of ~3k tokens (decode, and a chunk over the prefix)', async () => {
    const d = DIMS[4]!;
    await check(pagedAttentionSpec, shapeOf(d, [{ queryLen: 1, seqLen: 3001 }]), 'decode at 3001');
    await check(pagedAttentionSpec, shapeOf(d, [{ queryLen: 37, seqLen: 2500 }, { queryLen: 1, seqLen: 1 }]), 'chunk of 37 at 2500 + 1/1');
  });

  it('every tile config of the space (one mixed batch, GQA 4, d32)', async () => {
    const d: Dims = { numHeads: 8, numKvHeads: 2, headDim: 32, blockSize: 16, kv: 'f32' };
    const seqs = [{ queryLen: 1, seqLen: 70 }, { queryLen: 19, seqLen: 40 }, { queryLen: 5, seqLen: 5 }, { queryLen: 1, seqLen: 1 }];
    const shape = shapeOf(d, seqs, { slidingWindow: 23 });
    const space = pagedAttentionSpec.space(shape, ctx.info);
    expect(space.length).toBeGreaterThan(3);
    for (const cfg of space) await check(pagedAttentionSpec, shape, `config ${JSON.stringify(cfg)}`, cfg);
  });
});

describe('attention.paged-split (split-KV partials) and attention.reduce', () => {
  for (const d of [DIMS[0]!, DIMS[3]!, DIMS[6]!]) {
    it(`h${d.numHeads}/${d.numKvHeads} d${d.headDim} kv ${d.kv}`, async () => {
      for (let i = 0; i < 2; i++) {
        const seqs = randomSeqs(rng, { maxSeqs: 4, maxCtx: 500, maxChunk: 8 });
        const partitionSize = rng.pick([16, 32, 64, 128]);
        await check(pagedAttentionSplitSpec, { ...shapeOf(d, seqs, { slidingWindow: i ? 100 : 0 }), partitionSize }, `${label(d, seqs)} p${partitionSize}`);
      }
    });
  }

  it('every tile config (split entry point)', async () => {
    const d: Dims = { numHeads: 4, numKvHeads: 1, headDim: 16, blockSize: 16, kv: 'f32' };
    const shape = { ...shapeOf(d, [{ queryLen: 1, seqLen: 300 }, { queryLen: 6, seqLen: 90 }]), partitionSize: 64 };
    for (const cfg of attentionSpace(shape, ctx.info)) await check(pagedAttentionSplitSpec, shape, `config ${JSON.stringify(cfg)}`, cfg);
  });

  it('reduce', async () => {
    for (const [headDim, numRows, numSplits] of [[16, 1, 1], [64, 37, 5], [128, 8, 32], [80, 13, 3]] as const) {
      await check(attentionReduceSpec, { act: 'f32', headDim, numRows, numSplits }, `d${headDim} rows ${numRows} splits ${numSplits}`);
    }
  });
});

describe('kv-write', () => {
  it('fused and separate k/v, f32 and f16 caches, padding slots', async () => {
    for (const [kv, fusedQkv, numTokens, headDim, blockSize] of [
      ['f32', true, 57, 64, 16],
      ['f16', false, 13, 80, 8],
      ['f16', true, 1, 16, 32],
      ['f32', false, 200, 128, 16],
    ] as const) {
      const shape = { act: 'f32', kv, numTokens, numHeads: 8, numKvHeads: 2, headDim, blockSize, numBlocks: Math.ceil(numTokens / blockSize) + 3, fusedQkv, padFraction: 0.2 };
      await check(kvWriteSpec, shape, JSON.stringify(shape));
    }
  });
});
