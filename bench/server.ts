/**
 * Load generator for the OpenAI-compatible server: a fixed number of streaming requests at a
 * fixed concurrency against a server on loopback, measuring requests/s, output tokens/s,
 * time to first token (TTFT), inter-token latency (ITL) and end-to-end latency as seen by the
 * client. It stops by itself (after --requests, or at --time-limit). Writes JSON to
 * bench/results/ (or --out).
 *
 *   node bench/build.mjs bench/server.ts
 *   node bench/dist/server.js --url http://127.0.0.1:8000 --requests 64 --concurrency 8   # any server on loopback
 *   node bench/dist/server.js --model ../shared/models/stories260K/stories260K.gguf --quick  # starts its own
 *
 * Options: --url URL (loopback only) | --model PATH (serve it in this process, --act f16|f32),
 * --requests N (64), --concurrency C (8), --max-tokens N (32), --prompt TEXT, --chat (chat
 * completions instead of completions), --api-key KEY (or WGLLM_API_KEY), --time-limit S (120),
 * --quick (8 requests, concurrency 4, 8 tokens), --out FILE.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';

process.env.XDG_RUNTIME_DIR ??= '/tmp';

const { values: args } = parseArgs({
  options: {
    url: { type: 'string' },
    model: { type: 'string' },
    act: { type: 'string' },
    requests: { type: 'string' },
    concurrency: { type: 'string' },
    'max-tokens': { type: 'string' },
    prompt: { type: 'string', default: 'Once upon a time, there was a little girl named Lily. She' },
    chat: { type: 'boolean', default: false },
    'api-key': { type: 'string' },
    'time-limit': { type: 'string', default: '120' },
    quick: { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});

const int = (v: string | undefined, d: number) => (v === undefined ? d : Math.max(1, Math.floor(Number(v))));
const numRequests = int(args.requests, args.quick ? 8 : 64);
const concurrency = int(args.concurrency, args.quick ? 4 : 8);
const maxTokens = int(args['max-tokens'], args.quick ? 8 : 32);
const timeLimitMs = Number(args['time-limit']) * 1000;
const apiKey = args['api-key'] ?? process.env.WGLLM_API_KEY;

interface Sample {
  ok: boolean;
  status: number;
  ttftMs?: number;
  e2eMs: number;
  itlMs: number[];
  promptTokens: number;
  completionTokens: number;
}

function assertLoopback(url: string): void {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  if (!/^(127\.\d+\.\d+\.\d+|::1|localhost)$/.test(host)) throw new Error(`--url must be on loopback (127.0.0.1, ::1, localhost), not ${host}`);
}

/** Starts an in-process server for --model (the engine and the server from this repo). */
async function selfHost(model: string): Promise<{ url: string; stop: () => Promise<void> }> {
  const { createEngine } = await import('../src/engine/create.js');
  const { createNodePlatform } = await import('../src/platform/node/index.js');
  const { createServer } = await import('../src/server/index.js');
  const engine = await createEngine({ model, platform: createNodePlatform(), ...(args.act ? { act: args.act as 'f16' | 'f32' } : {}), maxNumSeqs: Math.max(16, concurrency) });
  const server = createServer({ engine, ...(apiKey ? { apiKey } : {}), maxWaiting: Math.max(256, numRequests) });
  const { url } = await server.listen(0, '127.0.0.1');
  console.error(`serving ${model} at ${url} (loaded in ${(engine.loadMs / 1000).toFixed(1)} s)`);
  return {
    url,
    stop: async () => {
      await server.close({ timeoutMs: 2000 });
      await engine.dispose();
    },
  };
}

async function one(base: string, model: string): Promise<Sample> {
  const body = {
    model,
    max_tokens: maxTokens,
    temperature: 0,
    ignore_eos: true,
    stream: true,
    stream_options: { include_usage: true },
    ...(args.chat ? { messages: [{ role: 'user', content: args.prompt }] } : { prompt: args.prompt }),
  };
  const t0 = performance.now();
  const res = await fetch(`${base}/v1/${args.chat ? 'chat/completions' : 'completions'}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}) },
    body: JSON.stringify(body),
  });
  const sample: Sample = { ok: false, status: res.status, e2eMs: 0, itlMs: [], promptTokens: 0, completionTokens: 0 };
  if (!res.ok || !res.body) {
    await res.text().catch(() => undefined);
    sample.e2eMs = performance.now() - t0;
    return sample;
  }
  let last = 0;
  let buf = '';
  const decoder = new TextDecoder();
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    buf += decoder.decode(value, { stream: true });
    let cut: number;
    while ((cut = buf.indexOf('\n\n')) >= 0) {
      const event = buf.slice(0, cut).replace(/^data: /, '');
      buf = buf.slice(cut + 2);
      if (event === '[DONE]') sample.ok = true;
      if (!event || event === '[DONE]') continue;
      const chunk = JSON.parse(event) as { choices: { text?: string; delta?: { content?: string } }[]; usage?: { prompt_tokens: number; completion_tokens: number } | null; error?: unknown };
      if (chunk.error) sample.status = 500;
      const text = chunk.choices[0]?.text ?? chunk.choices[0]?.delta?.content;
      if (text) {
        const now = performance.now();
        if (sample.ttftMs === undefined) sample.ttftMs = now - t0;
        else sample.itlMs.push(now - last);
        last = now;
      }
      if (chunk.usage) {
        sample.promptTokens = chunk.usage.prompt_tokens;
        sample.completionTokens = chunk.usage.completion_tokens;
      }
    }
  }
  sample.ok &&= sample.status === 200;
  sample.e2eMs = performance.now() - t0;
  return sample;
}

function stats(xs: number[]) {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  const at = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
  const r = (x: number) => Number(x.toFixed(2));
  return { n: s.length, mean: r(s.reduce((a, b) => a + b, 0) / s.length), p50: r(at(50)), p90: r(at(90)), p99: r(at(99)), max: r(s.at(-1)!) };
}

async function main() {
  if (!args.url === !args.model) throw new Error('give --url URL (a running server on loopback) or --model PATH (serve it here)');
  const host = args.model ? await selfHost(args.model) : undefined;
  const base = (host?.url ?? args.url!).replace(/\/+$/, '').replace(/\/v1$/, '');
  assertLoopback(base);
  try {
    const models = (await (await fetch(`${base}/v1/models`, { headers: apiKey ? { authorization: `Bearer ${apiKey}` } : {} })).json()) as { data: { id: string }[] };
    const model = models.data[0]!.id;
    console.error(`${numRequests} requests, concurrency ${concurrency}, ${maxTokens} tokens each, model ${model} at ${base}`);
    const samples: Sample[] = [];
    let next = 0;
    const t0 = performance.now();
    const worker = async () => {
      while (next < numRequests && performance.now() - t0 < timeLimitMs) {
        next++;
        samples.push(await one(base, model).catch(() => ({ ok: false, status: 0, e2eMs: 0, itlMs: [], promptTokens: 0, completionTokens: 0 })));
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    const wallS = (performance.now() - t0) / 1000;
    const ok = samples.filter((s) => s.ok);
    const errors: Record<string, number> = {};
    for (const s of samples.filter((x) => !x.ok)) errors[s.status] = (errors[s.status] ?? 0) + 1;
    const outputTokens = ok.reduce((a, s) => a + s.completionTokens, 0);
    const report = {
      bench: 'server',
      url: base,
      model,
      endpoint: args.chat ? 'chat/completions' : 'completions',
      config: { requests: numRequests, concurrency, maxTokens, promptChars: args.prompt!.length, timeLimitS: timeLimitMs / 1000 },
      date: new Date().toISOString(),
      wallS: Number(wallS.toFixed(3)),
      sent: samples.length,
      ok: ok.length,
      errors,
      stoppedByTimeLimit: samples.length < numRequests,
      requestsPerS: Number((ok.length / wallS).toFixed(3)),
      outputTokensPerS: Number((outputTokens / wallS).toFixed(2)),
      promptTokens: ok.reduce((a, s) => a + s.promptTokens, 0),
      outputTokens,
      ttftMs: stats(ok.map((s) => s.ttftMs!).filter((x) => x !== undefined)),
      itlMs: stats(ok.flatMap((s) => s.itlMs)),
      e2eMs: stats(ok.map((s) => s.e2eMs)),
    };
    const out = args.out ?? `bench/results/server-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
    await mkdir(dirname(out), { recursive: true });
    await writeFile(out, `${JSON.stringify(report, null, 2)}\n`);
    console.log(JSON.stringify(report, null, 2));
    console.error(`wrote ${out}`);
    if (!ok.length) process.exitCode = 1;
  } finally {
    await host?.stop();
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
