import { afterAll, describe, expect, it } from 'vitest';
import { createEngine, type WgllmEngine } from '../../src/engine/create.js';
import type { GenerateParams, GenerationEvent } from '../../src/engine/types.js';
import { isWgllmError } from '../../src/core/errors.js';
import { createNodePlatform } from '../../src/platform/node/index.js';
import { MemoryTuneStore } from '../../src/tune/store.js';
import { testGpu } from '../support/gpu.js';
import { modelPath, readJson } from '../support/models.js';

const ctx = await testGpu();
const platform = { ...createNodePlatform(), tuneStore: new MemoryTuneStore() };
const ref = readJson<{ prompt: { input_ids: number[]; greedy_32: { output_ids: number[] } } }>('stories260K/reference-outputs.json');

async function collect(events: AsyncIterable<GenerationEvent>) {
  const ids: number[] = [];
  let text = '';
  let finish: Extract<GenerationEvent, { type: 'finish' }> | undefined;
  for await (const e of events) {
    text += e.text;
    if (e.type === 'tokens') ids.push(...e.tokenIds);
    else finish = e;
  }
  return { ids, text, finish: finish! };
}

const engines: WgllmEngine[] = [];
async function engine(extra: Partial<Parameters<typeof createEngine>[0]> = {}) {
  const e = await createEngine({ model: modelPath('stories260K/stories260K.gguf'), platform, gpu: ctx, act: 'f32', maxModelLen: 256, maxNumSeqs: 16, maxNumBatchedTokens: 256, ...extra });
  engines.push(e);
  return e;
}
afterAll(async () => {
  for (const e of engines) await e.dispose();
});

const greedy: GenerateParams = { temperature: 0, maxTokens: 16, ignoreEos: true };

describe('engine (stories260K, f32)', async () => {
  const eng = await engine();
  const prompts = Array.from({ length: 16 }, (_, i) => [1, ...ref.prompt.input_ids.slice(1, 2 + (i % 4)), 300 + i * 7, 260 + i]);

  it('greedy generation equals the transformers reference', async () => {
    const r = await collect(eng.generate(ref.prompt.input_ids, { ...greedy, maxTokens: 32 }));
    expect([...ref.prompt.input_ids, ...r.ids]).toEqual(ref.prompt.greedy_32.output_ids);
    expect(r.finish.finishReason).toBe('length');
    expect(r.finish.usage).toMatchObject({ promptTokens: 5, completionTokens: 32 });
    expect(r.text.startsWith(', there was a little girl')).toBe(true);
  });

  it('batch invariance: 16 concurrent greedy requests equal each run alone', async () => {
    const alone: number[][] = [];
    for (const p of prompts) alone.push((await collect(eng.generate(p, greedy))).ids);
    const together = await Promise.all(prompts.map((p) => collect(eng.generate(p, greedy))));
    expect(together.map((t) => t.ids)).toEqual(alone);
    expect(eng.stats().kvCacheUsage).toBe(0);
  });

  it('seeded sampling: same seed, same tokens, alone or in a batch', async () => {
    const params: GenerateParams = { temperature: 1, topP: 0.9, seed: 1234, maxTokens: 12, ignoreEos: true };
    const a = (await collect(eng.generate(prompts[0]!, params))).ids;
    const batch = await Promise.all([
      collect(eng.generate(prompts[3]!, { ...params, seed: 7 })),
      collect(eng.generate(prompts[0]!, params)),
      collect(eng.generate(prompts[5]!, { temperature: 0.8, maxTokens: 12, ignoreEos: true })),
    ]);
    expect(batch[1]!.ids).toEqual(a);
    const other = (await collect(eng.generate(prompts[0]!, { ...params, seed: 99 }))).ids;
    expect(other).not.toEqual(a);
  });

  it('stop strings end generation and are not streamed', async () => {
    const full = await collect(eng.generate(ref.prompt.input_ids, { ...greedy, maxTokens: 32 }));
    const r = await collect(eng.generate(ref.prompt.input_ids, { ...greedy, maxTokens: 32, stop: ['little girl'] }));
    expect(r.finish.finishReason).toBe('stop');
    expect(r.finish.stop).toBe('little girl');
    expect(r.text).toBe(full.text.slice(0, full.text.indexOf('little girl')));
  });

  it('abort frees the request and its KV blocks', async () => {
    const ac = new AbortController();
    const events = eng.generate(prompts[1]!, { ...greedy, maxTokens: 200 }, { signal: ac.signal });
    let n = 0;
    let finish: GenerationEvent | undefined;
    for await (const e of events) {
      if (e.type === 'tokens' && ++n === 3) ac.abort();
      if (e.type === 'finish') finish = e;
    }
    expect(finish).toMatchObject({ finishReason: 'abort' });
    await new Promise((r) => setTimeout(r, 50));
    expect(eng.stats()).toMatchObject({ numRunning: 0, numWaiting: 0, kvCacheUsage: 0 });
  });

  it('rejects impossible parameters before they touch the engine', () => {
    const bad = (p: GenerateParams, re: RegExp) => expect(() => eng.generate([1, 2], p)).toThrow(re);
    bad({ maxTokens: -1 }, /max_tokens/);
    bad({ topP: 1.5 }, /topP/i);
    bad({ maxTokens: 1000 }, /context length/);
    expect(() => eng.generate(Array.from({ length: 300 }, () => 5))).toThrow(/maximum context length/);
    expect(() => eng.generate([1, 99999])).toThrow(/outside the vocabulary/);
    expect(eng.stats().numWaiting).toBe(0);
  });
});

describe('engine: prefix caching and preemption', () => {
  it('a second request sharing a long prefix computes only the uncached tokens, with the same output', async () => {
    const eng = await engine();
    const prefix = Array.from({ length: 64 }, (_, i) => 3 + ((i * 37) % 500));
    const a = await collect(eng.generate([...prefix, 7], greedy));
    const before = eng.stats().prefixCache;
    const b = await collect(eng.generate([...prefix, 7], greedy));
    const after = eng.stats().prefixCache;
    expect(after.hits - before.hits).toBe(64); // 4 full blocks of 16 served from the cache
    expect(b.finish.usage.cachedTokens).toBe(64);
    expect(b.ids).toEqual(a.ids);
  });

  it('with a KV pool too small for all requests at once, every request completes with its solo output', async () => {
    const eng = await engine({ numKvBlocks: 1 + 16, maxModelLen: 256, enablePrefixCaching: false });
    const ps = Array.from({ length: 6 }, (_, i) => Array.from({ length: 40 }, (_, j) => 3 + ((i * 131 + j * 17) % 500)));
    const params = { ...greedy, maxTokens: 24 };
    const solo: number[][] = [];
    for (const p of ps) solo.push((await collect(eng.generate(p, params))).ids);
    const together = await Promise.all(ps.map((p) => collect(eng.generate(p, params))));
    expect(together.map((t) => t.ids)).toEqual(solo);
    expect(eng.stats().totals.preemptions).toBeGreaterThan(0);
    expect(eng.stats().kvCacheUsage).toBe(0);
  });
});

describe('engine: async scheduling', () => {
  it('gives the same tokens as one step at a time: greedy, seeded with penalties, stop tokens, mid-batch finishes', async () => {
    const sync = await engine({ asyncScheduling: false });
    const overlapped = await engine({ asyncScheduling: true });
    const ps = Array.from({ length: 5 }, (_, i) => [1, 300 + i * 11, 260 + i, 400 + i]);
    const params: GenerateParams[] = [
      { ...greedy, maxTokens: 14 },
      { temperature: 1, topK: 40, seed: 11, maxTokens: 9, ignoreEos: true, repetitionPenalty: 1.3, presencePenalty: 0.5 },
      { ...greedy, maxTokens: 3 },
      { temperature: 0.9, seed: 5, maxTokens: 12, ignoreEos: true, frequencyPenalty: 0.4 },
      { ...greedy, maxTokens: 1 },
    ];
    const run = (eng: WgllmEngine, ps2: number[][], pp: GenerateParams[]) => Promise.all(ps2.map((p, i) => collect(eng.generate(p, pp[i]!))));
    const a = await run(sync, ps, params);
    // A stop token taken from the reference run: those requests end mid-batch, at that token.
    const withStops = params.map((p, i) => (i % 2 === 0 && a[i]!.ids.length > 2 ? { ...p, stopTokenIds: [a[i]!.ids[1]!] } : p));
    const a2 = await run(sync, ps, withStops);
    const b = await run(overlapped, ps, params);
    const b2 = await run(overlapped, ps, withStops);
    expect(b.map((r) => r.ids)).toEqual(a.map((r) => r.ids));
    expect(b2.map((r) => [r.ids, r.finish.finishReason])).toEqual(a2.map((r) => [r.ids, r.finish.finishReason]));
    expect(a2[0]!.finish.finishReason).toBe('stop');
    expect(overlapped.stats()).toMatchObject({ numRunning: 0, numWaiting: 0, kvCacheUsage: 0 });
  });
});

describe('engine errors', () => {
  it('a missing model file gives a clear not_found error and frees nothing it did not own', async () => {
    const err = await createEngine({ model: modelPath('nope/missing.gguf'), platform, gpu: ctx }).catch((e: unknown) => e);
    expect(isWgllmError(err, 'not_found')).toBe(true);
    expect(ctx.isLost).toBe(false);
  });
});
