import OpenAI, { APIError } from 'openai';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { metricValue, parseSse, scrape, startServer, storiesEngine, STORIES_TEMPLATE } from './helpers.js';

/**
 * The OpenAI API through the official `openai` client against a live server on loopback:
 * chat and completions, streaming and not, usage, the model list, and one error per 4xx class.
 */
const engine = await storiesEngine();
const { server, url, client } = await startServer({ engine, chatTemplate: STORIES_TEMPLATE });
const extra = await Promise.all([
  startServer({ engine, apiKey: 'sekret' }),
  startServer({ engine, maxWaiting: 1, bodyLimit: 64 * 1024 }),
]);
afterAll(async () => {
  for (const s of [server, ...extra.map((e) => e.server)]) await s.close({ timeoutMs: 1000 });
  await engine.dispose();
});

// stories260K stops early at EOS now and then; ignore_eos keeps lengths exact.
const greedy = { temperature: 0, max_tokens: 8, ignore_eos: true };
type Body = Record<string, unknown>;
const completionParams = (b: Body) => b as unknown as OpenAI.CompletionCreateParamsNonStreaming;
const chatParams = (b: Body) => b as unknown as OpenAI.ChatCompletionCreateParamsNonStreaming;

async function apiError(p: Promise<unknown>): Promise<APIError> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(APIError);
  return e as APIError;
}

describe('OpenAI client against wgllm serve (stories260K)', () => {
  it('lists the served model', async () => {
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toEqual(['stories']);
    expect(models.data[0]).toMatchObject({ object: 'model', owned_by: 'wgllm', max_model_len: 128 });
    expect((await client.models.retrieve('stories')).id).toBe('stories');
  });

  it('completions: non-streaming equals streaming, with usage, and equals the engine in-process', async () => {
    const body = { model: 'stories', prompt: 'Once upon a time', ...greedy };
    const direct = (await engine.completions.create({ ...body })) as { choices: { text: string }[] };
    const r = await client.completions.create(completionParams(body));
    expect(r.object).toBe('text_completion');
    expect(r.choices[0]!.text).toBe(direct.choices[0]!.text);
    expect(r.choices[0]!.finish_reason).toBe('length');
    expect(r.usage).toMatchObject({ completion_tokens: 8, total_tokens: r.usage!.prompt_tokens + 8 });

    const stream = await client.completions.create({ ...completionParams(body), stream: true, stream_options: { include_usage: true } });
    let text = '';
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.text ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe(r.choices[0]!.text);
    expect(usage).toMatchObject({ prompt_tokens: r.usage!.prompt_tokens, completion_tokens: 8 });
  });

  it('chat: non-streaming and streaming agree; the stream ends with usage and data: [DONE]', async () => {
    const body = { model: 'stories', messages: [{ role: 'user', content: 'Lily had a ball.' }], ...greedy };
    const r = await client.chat.completions.create(chatParams(body));
    expect(r.object).toBe('chat.completion');
    expect(r.choices[0]!.message.role).toBe('assistant');
    expect(r.choices[0]!.message.content!.length).toBeGreaterThan(0);
    expect(r.usage!.completion_tokens).toBe(8);

    const stream = await client.chat.completions.create({ ...chatParams(body), stream: true, stream_options: { include_usage: true } });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const c of stream) chunks.push(c);
    expect(chunks[0]!.choices[0]!.delta.role).toBe('assistant');
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe(r.choices[0]!.message.content);
    expect(chunks.at(-2)!.choices[0]!.finish_reason).toBe('length');
    expect(chunks.at(-1)!.choices).toEqual([]);
    expect(chunks.at(-1)!.usage).toMatchObject({ completion_tokens: 8, prompt_tokens: r.usage!.prompt_tokens });

    // The wire format itself: every event is `data: <json>`, the last one `data: [DONE]`.
    const raw = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...body, stream: true }),
    });
    expect(raw.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const text = await raw.text();
    expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
    expect(text.split('\n\n').filter(Boolean).every((e) => e.startsWith('data: '))).toBe(true);
  });

  it('400 for an invalid value, with an OpenAI error body naming the parameter', async () => {
    const e = await apiError(client.completions.create(completionParams({ model: 'stories', prompt: 'x', temperature: 5 })));
    expect(e.status).toBe(400);
    expect(e.error).toMatchObject({ type: 'invalid_request_error', param: 'temperature' });
  });

  it('401 without the API key; 200 with it; /health needs none', async () => {
    const { url: keyed, client: good } = extra[0]!;
    const bad = new OpenAI({ baseURL: `${keyed}/v1`, apiKey: 'wrong', maxRetries: 0 });
    const e = await apiError(bad.models.list());
    expect(e.status).toBe(401);
    expect(e.error).toMatchObject({ type: 'authentication_error', code: 'invalid_api_key' });
    expect((await fetch(`${keyed}/v1/models`)).status).toBe(401);
    expect((await good.models.list()).data[0]!.id).toBe('stories');
    expect((await fetch(`${keyed}/health`)).status).toBe(200);
  });

  it('404 for a model the server does not serve (the name is only compared, never opened)', async () => {
    for (const model of ['gpt-4o', '/etc/passwd', '../stories260K.gguf']) {
      const e = await apiError(client.chat.completions.create(chatParams({ model, messages: [{ role: 'user', content: 'hi' }] })));
      expect(e.status).toBe(404);
      expect(e.error).toMatchObject({ type: 'not_found_error', code: 'model_not_found', param: 'model' });
    }
    expect((await apiError(client.models.retrieve('other'))).status).toBe(404);
  });

  it('413 for a body over the limit', async () => {
    const { client: small } = extra[1]!;
    const e = await apiError(small.completions.create(completionParams({ model: 'stories', prompt: 'a'.repeat(100_000) })));
    expect(e.status).toBe(413);
    expect(e.error).toMatchObject({ code: 'request_too_large' });
  });

  it('429 with Retry-After when the waiting queue is full; accepted requests still complete', async () => {
    const { client: busy, url: busyUrl } = extra[1]!;
    // Keep the step loop busy so that new requests wait for the next step.
    const background = busy.completions.create(completionParams({ model: 'stories', prompt: 'Once', temperature: 0, max_tokens: 40, ignore_eos: true }));
    await vi.waitFor(async () => expect(metricValue(await scrape(busyUrl), 'wgllm:num_requests_running')).toBe(1), { timeout: 30_000, interval: 20 });
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, () => busy.completions.create(completionParams({ model: 'stories', prompt: 'Lily', ...greedy, max_tokens: 2 }))),
    );
    const refused = results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason as APIError);
    expect(refused.length).toBeGreaterThan(0);
    for (const e of refused) {
      expect(e.status).toBe(429);
      expect(e.headers?.get('retry-after')).toBe('1');
      expect(e.error).toMatchObject({ type: 'rate_limit_error' });
    }
    const ok = results.filter((r) => r.status === 'fulfilled');
    expect(ok.length).toBeGreaterThan(0);
    expect((await background).usage!.completion_tokens).toBe(40);
  });

  it('an unexpected engine error is a 500 with an OpenAI body, and the server keeps serving', async () => {
    const log = vi.fn();
    const spy = vi.spyOn(engine, 'generate').mockImplementationOnce(() => {
      throw new Error('simulated engine failure');
    });
    const s = await startServer({ engine, log });
    try {
      const e = await apiError(s.client.completions.create(completionParams({ model: 'stories', prompt: 'x', max_tokens: 2 })));
      expect(e.status).toBe(500);
      expect(e.error).toMatchObject({ type: 'server_error', message: 'simulated engine failure' });
      expect(log).toHaveBeenCalledOnce();
      const r = await s.client.completions.create(completionParams({ model: 'stories', prompt: 'x', ...greedy, max_tokens: 2 }));
      expect(r.usage!.completion_tokens).toBe(2);
    } finally {
      spy.mockRestore();
      await s.server.close({ timeoutMs: 1000 });
    }
  });

  it('an engine failure mid-stream ends the SSE stream with an error event and [DONE]', async () => {
    const log = vi.fn();
    const real = engine.generate.bind(engine);
    const spy = vi.spyOn(engine, 'generate').mockImplementationOnce((prompt, params, opts) => {
      const events = real(prompt, params, opts);
      return (async function* () {
        for await (const e of events) {
          yield e;
          throw new Error('device lost (simulated)');
        }
      })();
    });
    const s = await startServer({ engine, log });
    try {
      const r = await fetch(`${s.url}/v1/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ prompt: 'Once', max_tokens: 8, stream: true }),
      });
      expect(r.status).toBe(200);
      const { events, done } = parseSse(await r.text());
      expect(done).toBe(true);
      expect(events.at(-1)).toMatchObject({ error: { type: 'server_error', message: 'device lost (simulated)' } });
      expect(log).toHaveBeenCalledOnce();
      await vi.waitFor(() => expect(engine.stats().kvCacheUsage).toBe(0));
      expect((await fetch(`${s.url}/health`, { method: 'HEAD' })).status).toBe(200);
    } finally {
      spy.mockRestore();
      await s.server.close({ timeoutMs: 1000 });
    }
  });

  it('/metrics: Prometheus text with the wgllm: (vLLM) names', async () => {
    const text = await scrape(url);
    for (const name of [
      'wgllm:num_requests_running',
      'wgllm:num_requests_waiting',
      'wgllm:kv_cache_usage_perc',
      'wgllm:prompt_tokens_total',
      'wgllm:generation_tokens_total',
      'wgllm:prefix_cache_queries_total',
      'wgllm:prefix_cache_hits_total',
      'wgllm:time_to_first_token_seconds',
      'wgllm:inter_token_latency_seconds',
      'wgllm:e2e_request_latency_seconds',
      'wgllm:request_queue_time_seconds',
    ]) {
      expect(text, name).toMatch(new RegExp(`^# TYPE ${name} `, 'm'));
    }
    expect(metricValue(text, 'wgllm:generation_tokens_total')).toBeGreaterThan(0);
    expect(metricValue(text, 'wgllm:time_to_first_token_seconds_count')).toBeGreaterThan(0);
    expect(metricValue(text, 'wgllm:inter_token_latency_seconds_count')).toBeGreaterThan(0);
    expect(text).toMatch(/^wgllm:request_success_total\{finished_reason="length"\} \d+/m);
    expect(text).toMatch(/^wgllm:http_requests_total\{method="POST",route="\/v1\/completions",status="400"\} 1/m);
  });
});
