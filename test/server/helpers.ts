import OpenAI from 'openai';
import { createEngine, type EngineOptions, type WgllmEngine } from '../../src/engine/create.js';
import { createNodePlatform } from '../../src/platform/node/index.js';
import { createServer, type ServerOptions, type WgllmServer } from '../../src/server/index.js';
import { MemoryTuneStore } from '../../src/tune/store.js';
import { testGpu } from '../support/gpu.js';
import { modelPath } from '../support/models.js';

export const STORIES = modelPath('stories260K/stories260K.gguf');
/** stories260K has no chat template: this one makes chat requests plain story prompts. */
export const STORIES_TEMPLATE = '{{ bos_token }}{% for m in messages %}{{ m.content }}{% endfor %}';

const platform = { ...createNodePlatform(), tuneStore: new MemoryTuneStore() };

/** stories260K on the shared test device, sized for 32 requests at once. */
export async function storiesEngine(extra: Partial<EngineOptions> = {}): Promise<WgllmEngine> {
  return createEngine({
    model: STORIES,
    platform,
    gpu: await testGpu(),
    act: 'f32',
    maxModelLen: 128,
    maxNumSeqs: 32,
    maxNumBatchedTokens: 256,
    modelName: 'stories',
    ...extra,
  });
}

export async function startServer(opts: ServerOptions): Promise<{ server: WgllmServer; url: string; client: OpenAI }> {
  const server = createServer(opts);
  const { url } = await server.listen(0, '127.0.0.1');
  // No retries: the tests look at the first answer (429 and 5xx would be retried otherwise).
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: opts.apiKey ?? 'none', maxRetries: 0, timeout: 120_000 });
  return { server, url, client };
}

/** The value of an unlabelled sample in Prometheus text, e.g. `wgllm:num_requests_running`. */
export function metricValue(text: string, name: string): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name} `)) return Number(line.slice(name.length + 1));
  }
  return undefined;
}

export async function scrape(url: string): Promise<string> {
  const r = await fetch(`${url}/metrics`);
  return r.text();
}

/** Polls /metrics until `pred` holds (or fails after timeoutMs). */
export async function waitForMetrics(url: string, pred: (text: string) => boolean, timeoutMs = 60_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = await scrape(url);
    if (pred(text)) return text;
    if (Date.now() > deadline) throw new Error(`metrics did not reach the expected state:\n${text}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Raw SSE parse: the JSON payloads and whether [DONE] came last. */
export function parseSse(text: string): { events: unknown[]; done: boolean } {
  const events: unknown[] = [];
  let done = false;
  for (const block of text.split('\n\n')) {
    const line = block.trim();
    if (!line) continue;
    if (!line.startsWith('data: ')) throw new Error(`not an SSE data line: ${line}`);
    const data = line.slice(6);
    if (data === '[DONE]') done = true;
    else events.push(JSON.parse(data));
  }
  return { events, done };
}
