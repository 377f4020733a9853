import { describe, expect, it } from 'vitest';
import { ModelRunner, type RunnerStep } from '../../src/model/runner.js';
import { countDispatches } from '../support/dispatches.js';
import { testGpu } from '../support/gpu.js';
import { openFixture, readJson } from '../support/models.js';

// RoPE inside the attention's KV write (shaders/rope-kv-write.wgsl, the runner's default) against
// the rope pass of its own then kv-write, in the whole forward pass: both round q and k to the
// activation type after the rotation and store the same values, so the logits must be bit for bit
// the same, over a prompt and two decode steps. Both rotation styles: the GGUF llama (q/k rows
// permuted to interleaved pairs), the safetensors llama (neox halves), and Qwen3 (neox after the
// per-head q/k norms).
const ctx = await testGpu();
const limits = { maxNumTokens: 32, maxNumSeqs: 1, maxModelLen: 64 };
const cases = [
  { dir: 'tiny-llama3', file: 'tiny-llama3-F16.gguf', style: 'normal' },
  { dir: 'tiny-llama3', file: '', style: 'neox' },
  { dir: 'tiny-qwen3', file: 'tiny-qwen3-Q8_0.gguf', style: 'neox' },
];

describe('RoPE in the KV write', () => {
  for (const { dir, file, style } of cases) {
    it(`${dir}/${file || 'safetensors'} (${style}): one dispatch fewer per layer; logits bit for bit as with the rope pass`, { timeout: 300_000 }, async () => {
      const ids = readJson<{ prompts: { hf: { ids: number[] } }[] }>(`${dir}/reference.json`).prompts[0]!.hf.ids.slice(0, 24);
      const { model } = await openFixture(file ? `${dir}/${file}` : dir);
      expect(model.config.ropeStyle).toBe(style);
      const [fused, apart] = [await ModelRunner.create(ctx, model, { act: 'f32', limits }), await ModelRunner.create(ctx, model, { act: 'f32', limits, fuseRope: false })];
      try {
        const blockIds = [1, 2, 3, 4];
        const steps: RunnerStep[] = [
          { tokenIds: ids, positions: ids.map((_, i) => i), seqs: [{ queryLen: ids.length, seqLen: ids.length, blockIds }], sampleRows: [ids.length - 1] },
          ...[0, 1].map((i) => ({ tokenIds: [100 + i], positions: [ids.length + i], seqs: [{ queryLen: 1, seqLen: ids.length + i + 1, blockIds }], sampleRows: [0] })),
        ];
        for (const [i, step] of steps.entries()) {
          fused.prepare(step);
          apart.prepare(step);
          expect(countDispatches(apart) - countDispatches(fused), `step ${i}: rope passes saved`).toBe(model.config.numLayers);
          fused.run();
          apart.run();
          const got = await fused.readLogits();
          expect(got, `step ${i}`).toEqual(await apart.readLogits());
          expect(got.every(Number.isFinite) && got.some((v) => v !== 0), `step ${i}: logits computed`).toBe(true);
        }
      } finally {
        fused.dispose();
        apart.dispose();
        await model.close();
      }
    });
  }
});
