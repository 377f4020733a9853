import { describe, expect, it } from 'vitest';
import { isWgllmError } from '../../src/core/errors.js';
import { ModelRunner, type RunnerStep } from '../../src/model/runner.js';
import { testGpu } from '../support/gpu.js';
import { openFixture, readJson } from '../support/models.js';

// ModelRunner.encode over a range of layers, as the engine submits a long step in two parts: the
// layers [0, cut) in one command buffer and [cut, L) with the logits in the next must compute
// what one pass over all layers computes, bit for bit.
const ctx = await testGpu();
const limits = { maxNumTokens: 32, maxNumSeqs: 1, maxModelLen: 64 };

function runParts(runner: ModelRunner, cuts: number[]): void {
  const L = runner.config.numLayers;
  const bounds = [0, ...cuts, L];
  for (let i = 0; i + 1 < bounds.length; i++) {
    const enc = ctx.device.createCommandEncoder({ label: `part ${i}` });
    const pass = enc.beginComputePass();
    runner.encode(pass, { from: bounds[i]!, to: bounds[i + 1]! });
    pass.end();
    ctx.queue.submit([enc.finish()]);
  }
}

describe('ModelRunner.encode over a range of layers', () => {
  it('tiny-qwen3 (3 layers): parts submitted one after another equal one pass, prompt and decode', { timeout: 300_000 }, async () => {
    const ids = readJson<{ prompts: { hf: { ids: number[] } }[] }>('tiny-qwen3/reference.json').prompts[0]!.hf.ids.slice(0, 24);
    const { model } = await openFixture('tiny-qwen3/tiny-qwen3-Q8_0.gguf');
    const [whole, parts] = [await ModelRunner.create(ctx, model, { act: 'f32', limits }), await ModelRunner.create(ctx, model, { act: 'f32', limits })];
    try {
      expect(whole.config.numLayers).toBe(3);
      const blockIds = [1, 2, 3, 4];
      const steps: RunnerStep[] = [
        { tokenIds: ids, positions: ids.map((_, i) => i), seqs: [{ queryLen: ids.length, seqLen: ids.length, blockIds }], sampleRows: [ids.length - 1] },
        { tokenIds: [100], positions: [ids.length], seqs: [{ queryLen: 1, seqLen: ids.length + 1, blockIds }], sampleRows: [0] },
      ];
      for (const [i, step] of steps.entries()) {
        whole.prepare(step);
        parts.prepare(step);
        whole.run();
        runParts(parts, i === 0 ? [1] : [1, 2]);
        const got = await parts.readLogits();
        expect(got, `step ${i}`).toEqual(await whole.readLogits());
        expect(got.every(Number.isFinite) && got.some((v) => v !== 0), `step ${i}: logits computed`).toBe(true);
      }
      // a range outside the model's layers is refused before anything is recorded
      const enc = ctx.device.createCommandEncoder();
      const pass = enc.beginComputePass();
      let err: unknown;
      try {
        parts.encode(pass, { from: 2, to: 4 });
      } catch (e) {
        err = e;
      }
      pass.end();
      expect(isWgllmError(err, 'invalid_argument') && /outside 0\.\.3/.test((err as Error).message)).toBe(true);
    } finally {
      whole.dispose();
      parts.dispose();
      await model.close();
    }
  });
});
