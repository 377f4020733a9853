import { describe, expect, it } from 'vitest';
import { createEngine } from '../../src/engine/create.js';
import { createNodePlatform } from '../../src/platform/node/index.js';
import { MemoryTuneStore } from '../../src/tune/store.js';
import { testGpu } from '../support/gpu.js';
import { modelPath } from '../support/models.js';

describe('engine load with the tune cache', () => {
  it('tunes at the first load (tune: auto); a second load on the same adapter tunes nothing and resolves fast', async () => {
    const ctx = await testGpu();
    const platform = { ...createNodePlatform(), tuneStore: new MemoryTuneStore() };
    const opts = {
      model: modelPath('stories260K/stories260K.gguf'),
      platform,
      gpu: ctx,
      act: 'f32' as const,
      maxModelLen: 64,
      maxNumSeqs: 2,
      maxNumBatchedTokens: 32,
      tune: 'auto' as const,
      tuneBudgetMs: 120_000,
      tunePerKernelMs: 400,
    };
    const first = await createEngine(opts);
    const s1 = first.tuneStats!;
    await first.dispose();
    expect(s1.lookups).toBeGreaterThan(5);
    expect(s1.tuningRuns).toBeGreaterThan(0);
    expect(s1.tuned).toBeGreaterThan(0);

    const second = await createEngine(opts);
    const s2 = second.tuneStats!;
    await second.dispose();
    expect(s2.tuningRuns).toBe(0);
    expect(s1.misses).toBe(s1.tuned); // the budget reached every kernel
    expect(s2.hits).toBe(s1.lookups);
    expect(s2.lookupMs).toBeLessThan(50);
  });
});
