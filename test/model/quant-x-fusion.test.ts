import { describe, expect, it } from 'vitest';
import { ModelRunner, type RunnerStep } from '../../src/model/runner.js';
import { countDispatches } from '../support/dispatches.js';
import { testGpu } from '../support/gpu.js';
import { openFixture, readJson } from '../support/models.js';

// x quantized for the int8 GEMVs by the kernel that produces it (rmsnorm.quant-x before q|k|v and
// gate|up, swiglu.quant-x before down) against the separate matmul.quantize-x passes, in the whole
// forward pass: the words are the same, so the logits must be bit for bit the same, in a decode
// of two rows (the few-rows GEMV) and one of one row, after prefills on the GEMM (no quantized x)
// and on the few-rows GEMV. The int8 GEMVs run on the f32 path here (int8Gemv) so that adapters without
// shader-f16 (SwiftShader) test the wiring too; there a step with logits takes seconds (the int8
// lm_head over 49152 rows), so the steps are few. Q4_0: every layer in one format, so each of the
// three roles is fused; Q4_K_M: q|k|v and down mix formats across layers, gate|up is Q5_0 (no
// int8 GEMV): nothing fused, the quantizer passes stay.
const ctx = await testGpu();
// up to 40 rows a step: the 37-token prompt takes the GEMM, the 26-token one the few-rows GEMV
const limits = { maxNumTokens: 40, maxNumSeqs: 2, maxModelLen: 64 };
const L = 2; // tiny-llama3's layers

interface ModelRef {
  prompts: { hf: { ids: number[] } }[];
}
const ids = readJson<ModelRef>('tiny-llama3/reference.json').prompts.map((p) => p.hf.ids);
const [a, b] = [ids[6]!, ids[0]!]; // 37 and 26 tokens
const prefill = (p: number[], blockIds: number[], sample: boolean): RunnerStep => ({
  tokenIds: p,
  positions: p.map((_, i) => i),
  seqs: [{ queryLen: p.length, seqLen: p.length, blockIds }],
  sampleRows: sample ? [p.length - 1] : [],
});
const decode = (seqs: { len: number; blockIds: number[] }[]): RunnerStep => ({
  tokenIds: seqs.map((_, i) => 100 + i),
  positions: seqs.map((s) => s.len),
  seqs: seqs.map((s) => ({ queryLen: 1, seqLen: s.len + 1, blockIds: s.blockIds })),
  sampleRows: seqs.map((_, i) => i),
});
const [blocksA, blocksB] = [[1, 2, 3], [4, 5, 6]]; // 16-token blocks

describe('x quantized by its producer (tiny-llama3, int8 GEMVs on the f32 path)', () => {
  const cases = [
    {
      file: 'tiny-llama3-Q4_0.gguf',
      fusedPerLayer: 3,
      steps: [
        prefill(a, blocksA, false),
        prefill(b, blocksB, false), // the few-rows GEMV as the decode of 2 rows, which samples
        decode([
          { len: a.length, blockIds: blocksA },
          { len: b.length, blockIds: blocksB },
        ]),
        decode([{ len: b.length + 1, blockIds: blocksB }]),
      ],
    },
    { file: 'tiny-llama3-Q4_K_M.gguf', fusedPerLayer: 0, steps: [prefill(b, blocksB, false), decode([{ len: b.length, blockIds: blocksB }])] },
  ];
  for (const { file, fusedPerLayer, steps } of cases) {
    it.skipIf(!ctx.info.features.packedDot)(`${file}: ${fusedPerLayer} dispatches fewer per layer at batch 1; logits bit for bit as with quantizer passes`, { timeout: 300_000 }, async () => {
      const { model } = await openFixture(`tiny-llama3/${file}`);
      const make = (fuseQuantizeX: boolean | 'norms') => ModelRunner.create(ctx, model, { act: 'f32', limits, int8Gemv: true, fuseQuantizeX });
      const [fused, separate, norms] = [await make(true), await make(false), await make('norms')];
      try {
        const one = decode([{ len: 3, blockIds: blocksA }]);
        fused.prepare(one);
        separate.prepare(one);
        norms.prepare(one);
        expect(countDispatches(separate) - countDispatches(fused)).toBe(fusedPerLayer * L);
        // 'norms' fuses the two rmsnorms only (q|k|v's and gate|up's x), not swiglu's
        expect(countDispatches(separate) - countDispatches(norms)).toBe(Math.min(2, fusedPerLayer) * L);
        norms.dispose();
        for (const [i, step] of steps.entries()) {
          for (const r of [fused, separate]) {
            r.prepare(step);
            r.run();
          }
          if (!step.sampleRows.length) continue;
          const got = await fused.readLogits();
          expect(got, `step ${i}`).toEqual(await separate.readLogits());
          expect(got.every(Number.isFinite) && got.some((v) => v !== 0), `step ${i}: logits computed`).toBe(true);
        }
      } finally {
        fused.dispose();
        separate.dispose();
        await model.close();
      }
    });
  }
});
