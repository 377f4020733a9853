import { describe, expect, it } from 'vitest';
import { ModelRunner } from '../../src/model/runner.js';
import { greedyOnRunner } from '../support/greedy.js';
import { testGpu } from '../support/gpu.js';
import { openFixture, readJson } from '../support/models.js';

/**
 * The random-weight models of the real architectures (Llama/SmolLM2, Qwen2, Qwen3, Llama 3) on
 * the f32 path, against transformers: the HF folders (f32 weights) against HF float32; each GGUF
 * against HF float32 run on exactly the weights that GGUF holds (`hf_f32_on_dequantized_gguf`).
 * All 8 reference prompts per file: last-position logits and greedy tokens (32 for the HF
 * folders; for the GGUF files 8 by default, to keep the suite's time on a CPU Vulkan reasonable,
 * 32 with WGLLM_FULL_REFERENCE=1; bench/models.ts runs the 32-token check on a GPU).
 */
const GGUF_TOKENS = process.env.WGLLM_FULL_REFERENCE ? 32 : 8;
const ctx = await testGpu();
const limits = { maxNumTokens: 1024, maxNumSeqs: 8, maxModelLen: 512 };

interface Top5 {
  ids: number[];
  logits: number[];
}
interface PromptRef {
  name: string;
  hf: { ids: number[]; last_logits: number[]; greedy: { ids: number[] } };
  hf_f32_on_dequantized_gguf: Record<string, { last_top5: Top5; greedy: { ids: number[] } }>;
}
interface ModelRef {
  prompts: PromptRef[];
  gguf_files: Record<string, unknown>;
}

const MODELS = ['tiny-smollm2', 'tiny-qwen2', 'tiny-qwen3', 'tiny-llama3'];

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < b.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

for (const name of MODELS) {
  const ref = readJson<ModelRef>(`${name}/reference.json`);
  const prompts = ref.prompts.map((p) => p.hf.ids);
  describe(name, () => {
    it('HF folder (f32): logits within 1e-3 and greedy tokens equal transformers', { timeout: 900_000 }, async () => {
      const { model } = await openFixture(name);
      const runner = await ModelRunner.create(ctx, model, { act: 'f32', limits });
      try {
        const got = await greedyOnRunner(runner, prompts, 32);
        let worst = 0;
        ref.prompts.forEach((p, i) => {
          worst = Math.max(worst, maxAbsDiff(got[i]!.promptLogits, p.hf.last_logits));
          expect(got[i]!.ids, `${p.name} greedy`).toEqual(p.hf.greedy.ids);
        });
        console.log(`${name} HF f32: max |last logits - HF| = ${worst.toExponential(2)}`);
        expect(worst).toBeLessThanOrEqual(1e-3);
      } finally {
        runner.dispose();
        await model.close();
      }
    });

    for (const file of Object.keys(ref.gguf_files)) {
      it(`${file}: top-5 logits and greedy tokens equal HF on its dequantized weights`, { timeout: 900_000 }, async () => {
        const { model } = await openFixture(`${name}/${file}`);
        const runner = await ModelRunner.create(ctx, model, { act: 'f32', limits });
        try {
          const got = await greedyOnRunner(runner, prompts, GGUF_TOKENS);
          let worst = 0;
          ref.prompts.forEach((p, i) => {
            const want = p.hf_f32_on_dequantized_gguf[file]!;
            const logits = got[i]!.promptLogits;
            worst = Math.max(worst, maxAbsDiff(want.last_top5.ids.map((id) => logits[id]!), want.last_top5.logits));
            expect(got[i]!.ids, `${p.name} greedy`).toEqual(want.greedy.ids.slice(0, GGUF_TOKENS));
          });
          console.log(`${name} ${file}: max |top-5 last logits - HF(dequantized)| = ${worst.toExponential(2)}`);
          // references are printed with 7 significant digits (~1e-5 at these magnitudes)
          expect(worst).toBeLessThanOrEqual(1e-3);
        } finally {
          runner.dispose();
          await model.close();
        }
      });
    }
  });
}
