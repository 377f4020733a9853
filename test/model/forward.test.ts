import { describe, expect, it } from 'vitest';
import { ModelRunner } from '../../src/model/runner.js';
import { greedyOnRunner } from '../support/greedy.js';
import { testGpu } from '../support/gpu.js';
import { openFixture, readJson } from '../support/models.js';

const ctx = await testGpu();
const limits = { maxNumTokens: 64, maxNumSeqs: 4, maxModelLen: 256 };

interface StoriesRef {
  eos_id: number;
  greedy_from_bos: { input_ids: number[]; max_new_tokens: number; output_ids: number[] };
  prompt: { input_ids: number[]; last_position_logits: number[] };
}
const storiesRef = readJson<StoriesRef>('stories260K/reference-outputs.json');

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < b.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe('stories260K forward pass (f32) equals transformers', () => {
  for (const rel of ['stories260K/stories260K.gguf', 'stories260K-hf', 'stories260K/stories260K.bin']) {
    it(`${rel}: last-position logits and 200 greedy tokens from BOS`, async () => {
      const { model } = await openFixture(rel);
      const runner = await ModelRunner.create(ctx, model, { act: 'f32', limits });
      try {
        const p = storiesRef.prompt;
        const [first] = await greedyOnRunner(runner, [p.input_ids], 1);
        expect(maxAbsDiff(first!.promptLogits, p.last_position_logits)).toBeLessThanOrEqual(1e-3);
        const g = storiesRef.greedy_from_bos;
        const [gen] = await greedyOnRunner(runner, [g.input_ids], g.max_new_tokens);
        expect([...g.input_ids, ...gen!.ids]).toEqual(g.output_ids);
      } finally {
        runner.dispose();
        await model.close();
      }
    });
  }
});
