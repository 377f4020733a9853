import { afterAll, describe, expect, it } from 'vitest';
import type { Completion } from '../../src/engine/openai/completions.js';
import type { GenerationEvent } from '../../src/engine/types.js';
import { createWorkerEngine } from '../../src/worker/client.js';
import type { WorkerLoadProgress } from '../../src/worker/protocol.js';

// The engine in a real dedicated Web Worker, driven through comlink from the page: the same
// calls as in process, streaming, abort, errors with their codes, stats, dispose. The model is
// fetched from /models/ (vite.config.ts serves ../shared/models there) with range requests.

const ref = (await (await fetch('/models/stories260K/reference-outputs.json')).json()) as {
  prompt: { text: string; input_ids: number[]; greedy_32: { output_ids: number[] } };
};
const expected = ref.prompt.greedy_32.output_ids.slice(ref.prompt.input_ids.length);
const progress: WorkerLoadProgress[] = [];
const engine = await createWorkerEngine({
  model: { url: '/models/stories260K/stories260K.gguf', cache: false },
  act: 'f32',
  maxModelLen: 256,
  maxNumSeqs: 4,
  onProgress: (p) => progress.push(p),
});
afterAll(() => engine.dispose());

async function collect(events: AsyncIterable<GenerationEvent>) {
  const ids: number[] = [];
  let text = '';
  let finish: Extract<GenerationEvent, { type: 'finish' }> | undefined;
  for await (const e of events) {
    text += e.text;
    if (e.type === 'tokens') ids.push(...e.tokenIds);
    else finish = e;
  }
  return { ids, text, finish };
}

describe('WorkerEngine (stories260K in a Web Worker)', () => {
  it('reports load progress and the adapter', () => {
    const phases = new Set(progress.map((p) => p.phase));
    for (const ph of ['device', 'download', 'open', 'upload', 'compile', 'ready']) expect(phases, ph).toContain(ph);
    expect(engine.info.hasChatTemplate).toBe(false);
    expect(engine.info.act).toBe('f32');
    expect(engine.gpu.info.adapterKey).toBeTruthy();
    expect(engine.modelName).toBe('stories260K.gguf');
  });

  it('generate: the reference greedy tokens, as in Node', async () => {
    expect(await engine.tokenize(ref.prompt.text)).toEqual(ref.prompt.input_ids);
    const r = await collect(engine.generate(ref.prompt.input_ids, { temperature: 0, maxTokens: 32, ignoreEos: true }));
    expect(r.ids).toEqual(expected);
    expect(r.finish?.finishReason).toBe('length');
    expect(r.text).toBe(await engine.detokenize(expected));
  });

  it('completions.create: streamed and whole replies agree', async () => {
    const body = { prompt: ref.prompt.input_ids, max_tokens: 12, temperature: 0 };
    const whole = (await engine.completions.create(body)) as Completion;
    const stream = (await engine.completions.create({ ...body, stream: true, stream_options: { include_usage: true } })) as AsyncIterable<Completion>;
    let text = '';
    let usage: Completion['usage'];
    for await (const c of stream) {
      text += c.choices[0]?.text ?? '';
      if (c.usage) usage = c.usage;
    }
    expect(text).toBe(whole.choices[0]!.text);
    expect(text).toBe(await engine.detokenize(expected.slice(0, 12)));
    expect(usage?.completion_tokens).toBe(12);
  });

  it('errors keep their code and status across the worker', async () => {
    // stories260K has no chat template: a 400 RequestError in the worker.
    const err = await engine.chat.completions.create({ messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as { code?: string }).code).toBe('invalid_argument');
    expect((err as { status?: number }).status).toBe(400);
    const bad = await collect(engine.generate([1, 99999], { maxTokens: 2 })).catch((e: unknown) => e);
    expect((bad as { status?: number }).status).toBe(400);
  });

  it('AbortSignal ends a stream with finish reason abort and frees its blocks', async () => {
    const ac = new AbortController();
    const seen: number[] = [];
    let finish: string | undefined;
    for await (const e of engine.generate(ref.prompt.input_ids, { temperature: 0, maxTokens: 200, ignoreEos: true }, { signal: ac.signal })) {
      if (e.type === 'tokens') {
        seen.push(...e.tokenIds);
        if (seen.length >= 3) ac.abort();
      } else finish = e.finishReason;
    }
    expect(finish).toBe('abort');
    expect(seen.length).toBeLessThan(200);
    const s = await engine.stats();
    expect(s.numRunning + s.numWaiting).toBe(0);
    expect(s.kvCacheUsage).toBe(0);
  });

  it('leaving a stream early cancels its request', async () => {
    let n = 0;
    for await (const e of engine.generate(ref.prompt.input_ids, { temperature: 0, maxTokens: 200, ignoreEos: true })) {
      if (e.type === 'tokens' && ++n === 2) break;
    }
    await expect.poll(async () => (await engine.stats()).numRunning, { timeout: 10_000 }).toBe(0);
    expect((await engine.stats()).kvCacheUsage).toBe(0);
  });

  it('requests in flight together each get their own tokens', async () => {
    const [a, b] = await Promise.all([
      collect(engine.generate(ref.prompt.input_ids, { temperature: 0, maxTokens: 8, ignoreEos: true })),
      collect(engine.generate([1, 403], { temperature: 0, maxTokens: 8, ignoreEos: true })),
    ]);
    expect(a.ids).toEqual(expected.slice(0, 8));
    expect(b.ids).toHaveLength(8);
  });
});

describe('WorkerEngine lifecycle', () => {
  it('a load error arrives with its code and ends the worker', async () => {
    const err = await createWorkerEngine({ model: { url: '/models/no-such-model.gguf', cache: false } }).catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe('not_found');
  });

  it('dispose frees the engine; later calls fail', async () => {
    const e2 = await createWorkerEngine({ model: { url: '/models/stories260K/stories260K.gguf', cache: false }, act: 'f32', maxModelLen: 64, maxNumSeqs: 1 });
    await e2.dispose();
    await e2.dispose(); // idempotent
    await expect(e2.stats()).rejects.toThrow(/disposed/);
    expect(() => e2.generate([1])[Symbol.asyncIterator]()).not.toThrow();
    await expect(collect(e2.generate([1]))).rejects.toThrow(/disposed/);
  });
});
