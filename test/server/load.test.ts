import type OpenAI from 'openai';
import { afterAll, describe, expect, it } from 'vitest';
import { metricValue, scrape, startServer, storiesEngine, waitForMetrics } from './helpers.js';

/**
 * Concurrency through the engine's continuous batching, and clients that go away: 32 streaming
 * clients at once get exactly the tokens each would get alone; when half of them disconnect
 * mid-stream their requests are aborted and the KV pool ends fully free.
 */
const engine = await storiesEngine();
const { server, url, client } = await startServer({ engine });
afterAll(async () => {
  await server.close({ timeoutMs: 1000 });
  await engine.dispose();
});

const PROMPTS = ['Once upon a time', 'Lily had a red ball', 'The dog ran to the park', 'Tom and Sue'];
const params = (i: number, maxTokens: number) =>
  ({ model: 'stories', prompt: PROMPTS[i % PROMPTS.length]!, temperature: 0, max_tokens: maxTokens, ignore_eos: true }) as unknown as OpenAI.CompletionCreateParamsNonStreaming;

const idle = (t: string) =>
  metricValue(t, 'wgllm:num_requests_running') === 0 && metricValue(t, 'wgllm:num_requests_waiting') === 0 && metricValue(t, 'wgllm:kv_cache_usage_perc') === 0;

describe('concurrent clients (stories260K)', () => {
  it('32 concurrent streaming clients each get the greedy output of their prompt run alone', async () => {
    const alone: string[] = [];
    for (let i = 0; i < PROMPTS.length; i++) alone.push((await client.completions.create(params(i, 6))).choices[0]!.text);

    const texts = await Promise.all(
      Array.from({ length: 32 }, async (_, i) => {
        const stream = await client.completions.create({ ...params(i, 6), stream: true, stream_options: { include_usage: true } });
        let text = '';
        let finish: string | null | undefined;
        let usage: OpenAI.CompletionUsage | null | undefined;
        for await (const chunk of stream) {
          text += chunk.choices[0]?.text ?? '';
          finish ??= chunk.choices[0]?.finish_reason;
          usage ??= chunk.usage;
        }
        expect(finish).toBe('length');
        expect(usage?.completion_tokens).toBe(6);
        return text;
      }),
    );
    texts.forEach((t, i) => expect(t, `client ${i}`).toBe(alone[i % PROMPTS.length]));
    expect(idle(await waitForMetrics(url, idle, 10_000))).toBe(true);
  }, 300_000);

  it('half of 32 streaming clients disconnect mid-stream: they are aborted and the KV pool ends fully free', async () => {
    const maxTokens = 12;
    let peak = 0;
    const clients = Array.from({ length: 32 }, async (_, i) => {
      const stream = await client.completions.create({ ...params(i, maxTokens), stream: true, stream_options: { include_usage: true } });
      let tokens = 0;
      for await (const chunk of stream) {
        if (chunk.choices[0]?.text) tokens++;
        if (chunk.usage) return { aborted: false, completionTokens: chunk.usage.completion_tokens };
        if (i % 2 === 1 && tokens === 2) {
          stream.controller.abort();
          return { aborted: true, completionTokens: tokens };
        }
      }
      throw new Error(`client ${i}: the stream ended without usage`);
    });
    // While the survivors still stream, the running count drops to at most 16.
    const during = await waitForMetrics(url, (t) => {
      const running = metricValue(t, 'wgllm:num_requests_running') ?? 0;
      peak = Math.max(peak, running);
      return peak > 16 && running <= 16;
    });
    expect(metricValue(during, 'wgllm:kv_cache_usage_perc')).toBeGreaterThan(0);
    const results = await Promise.all(clients);
    expect(results.filter((r) => r.aborted)).toHaveLength(16);
    for (const r of results.filter((x) => !x.aborted)) expect(r.completionTokens).toBe(maxTokens);

    const after = await waitForMetrics(url, idle, 10_000);
    expect(metricValue(after, 'wgllm:kv_cache_usage_perc')).toBe(0);
    expect(metricValue(after, 'wgllm:num_requests_running')).toBe(0);
    expect(after).toMatch(/^wgllm:request_success_total\{finished_reason="abort"\} 16$/m);
    expect(engine.stats().kvCacheUsage).toBe(0);
  }, 300_000);

  it('a non-streaming client that disconnects has its request aborted', async () => {
    const ac = new AbortController();
    const pending = client.completions.create(params(0, 120), { signal: ac.signal });
    await waitForMetrics(url, (t) => metricValue(t, 'wgllm:num_requests_running') === 1);
    ac.abort();
    await expect(pending).rejects.toThrow();
    // Far sooner than 120 steps: the request was aborted, not run to its end.
    const t0 = Date.now();
    await waitForMetrics(url, idle, 10_000);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(await scrape(url)).toMatch(/^wgllm:request_success_total\{finished_reason="abort"\} 17$/m);
  });
});
