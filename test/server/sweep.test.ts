import { afterAll, describe, expect, it, vi } from 'vitest';
import { createServer } from '../../src/server/index.js';
import { metricValue, parseSse, scrape, startServer, storiesEngine } from './helpers.js';

/**
 * Malformed requests of every kind get a 4xx with an OpenAI error body: never a 5xx, never a
 * crash, and the server serves a good request afterwards. Then the server's life cycle:
 * loading, CORS, graceful close.
 */
const engine = await storiesEngine();
const { server, url } = await startServer({ engine, bodyLimit: 256 * 1024 });
afterAll(async () => {
  await server.close({ timeoutMs: 1000 });
  await engine.dispose();
});

const CHAT = '/v1/chat/completions';
const COMPLETIONS = '/v1/completions';
const msg = [{ role: 'user', content: 'hi' }];

interface Case {
  name: string;
  path?: string;
  method?: string;
  body?: BodyInit;
  json?: unknown;
  type?: string | null;
  status?: number;
}

const bad: Case[] = [
  // not JSON, or not a JSON object
  ...['{', '{"model":', 'null', '[]', '"text"', '42', 'true', '', '   ', '{"messages": [}', '\u0000'].map((body) => ({ name: `body ${JSON.stringify(body)}`, body })),
  { name: 'invalid UTF-8', body: new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]) },
  { name: 'deeply nested arrays', body: `${'['.repeat(50_000)}${']'.repeat(50_000)}` },
  { name: 'deeply nested object field', json: { messages: msg, x: JSON.parse(`${'{"a":'.repeat(2000)}1${'}'.repeat(2000)}`), temperature: 'x' } },
  // wrong types
  { name: 'messages as a string', json: { messages: 'hi' } },
  { name: 'no messages', json: { model: 'stories' } },
  { name: 'content as a number', json: { messages: [{ role: 'user', content: 5 }] } },
  { name: 'unknown role', json: { messages: [{ role: 'wizard', content: 'x' }] } },
  { name: 'message as null', json: { messages: [null] } },
  { name: 'max_tokens as a string', json: { messages: msg, max_tokens: 'ten' } },
  { name: 'temperature as a string', json: { messages: msg, temperature: 'hot' } },
  { name: 'stream as a string', json: { messages: msg, stream: 'yes' } },
  { name: 'stop as a number', json: { messages: msg, stop: 5 } },
  { name: 'stream_options as a string', json: { messages: msg, stream: true, stream_options: 'x' } },
  { name: 'logit_bias with a non-id key', json: { messages: msg, logit_bias: { abc: 1 } } },
  { name: 'seed as a float', json: { messages: msg, seed: 1.5 } },
  { name: 'model as a number', json: { messages: msg, model: 7 } },
  { name: 'prompt as an object', path: COMPLETIONS, json: { prompt: {} } },
  { name: 'prompt as a number', path: COMPLETIONS, json: { prompt: 5 } },
  { name: 'prompt with mixed types', path: COMPLETIONS, json: { prompt: [1, 'a'] } },
  { name: 'no prompt', path: COMPLETIONS, json: {} },
  // out of range
  ...[0, -1, 1e9, 2.5].map((v) => ({ name: `max_tokens ${v}`, json: { messages: msg, max_tokens: v } })),
  ...[-1, 3].map((v) => ({ name: `temperature ${v}`, json: { messages: msg, temperature: v } })),
  { name: 'top_p 0', json: { messages: msg, top_p: 0 } },
  { name: 'top_k -5', json: { messages: msg, top_k: -5 } },
  { name: 'min_p 2', json: { messages: msg, min_p: 2 } },
  { name: 'presence_penalty 5', json: { messages: msg, presence_penalty: 5 } },
  { name: 'repetition_penalty 0', json: { messages: msg, repetition_penalty: 0 } },
  { name: 'n 2', json: { messages: msg, n: 2 } },
  { name: 'top_logprobs 30', json: { messages: msg, logprobs: true, top_logprobs: 30 } },
  { name: 'logprobs 50', path: COMPLETIONS, json: { prompt: 'x', logprobs: 50 } },
  { name: 'logit_bias token beyond the vocabulary', json: { messages: msg, logit_bias: { '99999': 5 } } },
  { name: 'logit_bias value 1000', json: { messages: msg, logit_bias: { '5': 1000 } } },
  { name: 'prompt token beyond the vocabulary', path: COMPLETIONS, json: { prompt: [1, 999_999] } },
  { name: 'negative prompt token', path: COMPLETIONS, json: { prompt: [-1] } },
  { name: 'empty messages', json: { messages: [] } },
  { name: 'prompt longer than the context', path: COMPLETIONS, json: { prompt: 'the cat sat. '.repeat(200) } },
  { name: 'max_tokens beyond the context', json: { messages: msg, max_tokens: 500 } },
  { name: '100 stop strings', json: { messages: msg, stop: Array(100).fill('x') } },
  { name: 'tools', json: { messages: msg, tools: [{ type: 'function' }] } },
  { name: 'chat without a template (stories260K has none)', json: { messages: msg }, status: 400 },
  // unknown model, names that look like paths
  ...['gpt-4', '/etc/passwd', '../../stories260K.gguf', 'file:///etc/hosts'].map((model) => ({ name: `model ${model}`, json: { messages: msg, model }, status: 404 })),
  // sizes
  { name: 'body over the limit', path: COMPLETIONS, json: { prompt: 'x'.repeat(300_000) }, status: 413 },
  { name: 'chunked body over the limit', path: COMPLETIONS, body: 'stream', status: 413 },
  // content types
  ...['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml'].map((type) => ({
    name: `content-type ${type}`,
    json: { messages: msg },
    type,
    status: 415,
  })),
  // methods
  ...['GET', 'PUT', 'DELETE', 'PATCH'].flatMap((method) => [CHAT, COMPLETIONS].map((path) => ({ name: `${method} ${path}`, method, path, status: 405 }))),
  { name: 'POST /v1/models', method: 'POST', path: '/v1/models', json: {}, status: 405 },
  { name: 'unknown route', path: '/v1/embeddings', json: { input: 'x' }, status: 404 },
  { name: 'unknown model route', method: 'GET', path: '/v1/models/nope', status: 404 },
];

function chunkedBody(bytes: number): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream({
    pull(c) {
      if (sent >= bytes) return c.close();
      c.enqueue(new TextEncoder().encode(sent === 0 ? '{"prompt":"' : 'x'.repeat(16 * 1024)));
      sent += 16 * 1024;
    },
  });
}

async function send(c: Case): Promise<Response> {
  const method = c.method ?? 'POST';
  const headers: Record<string, string> = {};
  if (c.type !== null && method !== 'GET') headers['content-type'] = c.type ?? 'application/json';
  let body: BodyInit | undefined = c.json !== undefined ? JSON.stringify(c.json) : c.body;
  if (body === 'stream') body = chunkedBody(1 << 20);
  const init: RequestInit & { duplex?: 'half' } = { method, headers, ...(body !== undefined && method !== 'GET' ? { body, duplex: 'half' } : {}) };
  return fetch(`${url}${c.path ?? CHAT}`, init);
}

describe('malformed requests (stories260K)', () => {
  it('every malformed request gets a 4xx with an OpenAI error body; none gets a 5xx', async () => {
    const failures: string[] = [];
    for (const c of bad) {
      const t0 = Date.now();
      const r = await send(c);
      const text = await r.text();
      if (Date.now() - t0 > 1000) console.log(`slow case: ${c.name}: ${Date.now() - t0} ms`);
      let body: { error?: { message?: unknown; type?: unknown } } = {};
      try {
        body = JSON.parse(text);
      } catch {
        failures.push(`${c.name}: body is not JSON: ${text.slice(0, 80)}`);
      }
      const statusOk = c.status !== undefined ? r.status === c.status : r.status >= 400 && r.status < 500;
      if (!statusOk || typeof body.error?.message !== 'string' || typeof body.error?.type !== 'string') {
        failures.push(`${c.name}: ${r.status} ${text.slice(0, 160)}`);
      }
    }
    expect(failures).toEqual([]);
    const metrics = await scrape(url);
    expect(metrics).not.toMatch(/status="5\d\d"/);
    expect(metricValue(metrics, 'wgllm:num_requests_running')).toBe(0);
  });

  it('still serves good requests afterwards, lone surrogates included', async () => {
    expect((await fetch(`${url}/health`)).status).toBe(200);
    const r = await send({ name: 'good', path: COMPLETIONS, json: { prompt: 'Once upon a time', max_tokens: 3, temperature: 0, ignore_eos: true } });
    expect(r.status).toBe(200);
    expect((await r.json()).usage.completion_tokens).toBe(3);
    const s = await send({ name: 'surrogates', path: COMPLETIONS, json: { prompt: 'Lily \ud800 and \udfff', max_tokens: 2, stream: true } });
    expect(s.status).toBe(200);
    expect(parseSse(await s.text()).done).toBe(true);
    // Odd but valid: an empty prompt (BOS alone), a stop token the model never produces.
    for (const json of [{ prompt: '', max_tokens: 1 }, { prompt: 'x', max_tokens: 1, stop_token_ids: [1e12] }]) {
      expect((await send({ name: 'edge', path: COMPLETIONS, json })).status).toBe(200);
    }
    // A missing content type is accepted (curl --data-binary sends none that we refuse).
    const n = await fetch(`${url}${COMPLETIONS}`, { method: 'POST', body: new Blob([JSON.stringify({ prompt: 'Tom', max_tokens: 1 })]) });
    expect(n.status).toBe(200);
  });
});

describe('server lifecycle (stories260K)', () => {
  const get = (s: { app: { fetch: (r: Request) => Response | Promise<Response> } }, path: string) => s.app.fetch(new Request(`http://127.0.0.1${path}`));

  it('/health and the API answer 503 until the engine is loaded, then 200', async () => {
    let resolve!: (e: typeof engine) => void;
    const s = createServer({ engine: new Promise((r) => (resolve = r)) });
    const h = await get(s, '/health');
    expect(h.status).toBe(503);
    expect(await h.json()).toEqual({ status: 'loading' });
    const m = await get(s, '/v1/models');
    expect(m.status).toBe(503);
    expect(m.headers.get('retry-after')).toBe('1');
    expect((await m.json()).error).toMatchObject({ type: 'server_error', code: 'model_not_ready' });
    resolve(engine);
    await s.loaded;
    expect((await get(s, '/health')).status).toBe(200);
    expect((await (await get(s, '/v1/models')).json()).data[0].id).toBe('stories');
  });

  it('a failed load keeps /health at 503 and rejects `loaded`', async () => {
    const s = createServer({ engine: Promise.reject(new Error('no adapter')) });
    await expect(s.loaded).rejects.toThrow('no adapter');
    expect(await (await get(s, '/health')).json()).toEqual({ status: 'error' });
  });

  it('CORS is off by default and on with cors: true', async () => {
    const origin = { origin: 'http://example.com' };
    expect((await fetch(`${url}/v1/models`, { headers: origin })).headers.get('access-control-allow-origin')).toBeNull();
    const c = await startServer({ engine, cors: true });
    try {
      const pre = await fetch(`${c.url}/v1/chat/completions`, {
        method: 'OPTIONS',
        headers: { ...origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
      });
      expect(pre.status).toBe(204);
      expect(pre.headers.get('access-control-allow-origin')).toBe('*');
      expect(pre.headers.get('access-control-allow-headers')).toMatch(/authorization/i);
      expect((await fetch(`${c.url}/v1/models`, { headers: origin })).headers.get('access-control-allow-origin')).toBe('*');
    } finally {
      await c.server.close({ timeoutMs: 1000 });
    }
  });

  it('close(): requests in flight finish within the timeout or are aborted; then the port is closed and the KV pool free', async () => {
    const s = await startServer({ engine });
    const stream = (maxTokens: number) =>
      fetch(`${s.url}${COMPLETIONS}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ prompt: 'Once upon a time', max_tokens: maxTokens, temperature: 0, ignore_eos: true, stream: true }),
      }).then((r) => r.text());
    const short = stream(3);
    const long = stream(120);
    await vi.waitFor(() => expect(engine.stats().numRunning).toBe(2), { timeout: 30_000, interval: 10 });
    await s.server.close({ timeoutMs: 1500 });
    const shortEvents = parseSse(await short);
    expect(shortEvents.done).toBe(true);
    expect(shortEvents.events.filter((e) => (e as { choices: { text: string }[] }).choices[0]?.text).length).toBeGreaterThan(0);
    const longEvents = parseSse(await long);
    expect(longEvents.done).toBe(true);
    expect((longEvents.events.at(-1) as { choices: { finish_reason: string }[] }).choices[0]!.finish_reason).toBe('abort');
    await expect(fetch(`${s.url}/health`)).rejects.toThrow();
    expect(engine.stats()).toMatchObject({ numRunning: 0, numWaiting: 0, kvCacheUsage: 0 });
  });
});
