import { createHash, timingSafeEqual } from 'node:crypto';
import { Hono, type Context } from 'hono';
import { cors } from 'hono/cors';
import type { ChatCompletionRequest, CompletionRequest } from '../engine/openai/schemas.js';
import { readJsonBody } from './body.js';
import type { EngineView } from './engine-view.js';
import { errorAnswer, HttpError } from './errors.js';
import type { ServerMetrics } from './metrics.js';
import { sseResponse } from './sse.js';

/** What the routes need from the server around them (its state changes: loading, serving, draining). */
export interface AppState {
  /** the engine view once the model is loaded; throws a 503 HttpError before */
  view(): EngineView;
  readonly ready: boolean;
  readonly draining: boolean;
  readonly loadError: unknown;
  readonly metrics: ServerMetrics;
  readonly maxWaiting: number;
  readonly bodyLimit: number;
  readonly apiKey: string | undefined;
  readonly cors: boolean | string[];
  /** registers a generation in flight; the returned function ends it */
  track(ac: AbortController): () => void;
  log(line: string): void;
  onRequest?: (r: { method: string; path: string; status: number; ms: number }) => void;
}

const GENERATION_ROUTES = ['/v1/chat/completions', '/v1/completions'] as const;
const KNOWN_ROUTES = new Set<string>([...GENERATION_ROUTES, '/v1/models', '/health', '/metrics']);

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** The OpenAI-compatible HTTP API over one engine, as a Hono app (runtime-neutral routing). */
export function buildApp(s: AppState): Hono {
  const app = new Hono();
  const keyDigest = s.apiKey !== undefined ? digest(s.apiKey) : undefined;

  app.use('*', async (c, next) => {
    const t0 = performance.now();
    await next();
    const route = KNOWN_ROUTES.has(c.req.path) ? c.req.path : c.req.path.startsWith('/v1/models/') ? '/v1/models/:id' : 'other';
    s.metrics.countHttp(c.req.method, route, c.res.status);
    s.onRequest?.({ method: c.req.method, path: c.req.path, status: c.res.status, ms: performance.now() - t0 });
    // Draining: answer, then let the connection go, so keep-alive clients reconnect elsewhere.
    if (s.draining) c.res.headers.set('connection', 'close');
  });

  if (s.cors !== false) {
    app.use(
      '*',
      cors({
        origin: s.cors === true ? '*' : s.cors,
        allowMethods: ['GET', 'POST', 'OPTIONS'],
        allowHeaders: ['Authorization', 'Content-Type'],
        maxAge: 600,
      }),
    );
  }

  if (keyDigest) {
    app.use('/v1/*', async (c, next) => {
      const m = /^Bearer\s+(.+)$/i.exec(c.req.header('authorization') ?? '');
      // Compare digests: equal length, so timingSafeEqual leaks nothing about the key.
      if (!m || !timingSafeEqual(digest(m[1]!.trim()), keyDigest)) {
        throw new HttpError(401, 'Invalid or missing API key: send "Authorization: Bearer <key>".', 'invalid_api_key', {
          'www-authenticate': 'Bearer',
        });
      }
      await next();
    });
  }

  app.get('/health', (c) => {
    if (s.ready && !s.draining) return c.json({ status: 'ok' });
    const status = s.draining ? 'draining' : s.loadError !== undefined ? 'error' : 'loading';
    return c.json({ status }, 503, { 'retry-after': '1' });
  });

  app.get('/metrics', async (c) => c.body(await s.metrics.text(), 200, { 'content-type': s.metrics.contentType }));

  app.get('/v1/models', (c) => c.json({ object: 'list', data: [modelCard(s.view())] }));
  app.get('/v1/models/:id{.+}', (c) => {
    const v = s.view();
    if (c.req.param('id') !== v.modelName) {
      throw new HttpError(404, `The model '${c.req.param('id')}' does not exist; this server serves '${v.modelName}'.`, 'model_not_found', {}, 'model');
    }
    return c.json(modelCard(v));
  });

  app.post('/v1/chat/completions', (c) => generate(c, s, (v, body, signal) => v.chat(body as ChatCompletionRequest, { signal })));
  app.post('/v1/completions', (c) => generate(c, s, (v, body, signal) => v.completion(body as CompletionRequest, { signal })));
  for (const path of GENERATION_ROUTES) {
    app.all(path, () => {
      throw new HttpError(405, `${path} accepts POST only`, 'method_not_allowed', { allow: 'POST' });
    });
  }
  for (const path of ['/v1/models', '/health', '/metrics']) {
    app.all(path, () => {
      throw new HttpError(405, `${path} accepts GET only`, 'method_not_allowed', { allow: 'GET, HEAD' });
    });
  }

  app.notFound((c) => c.json(new HttpError(404, `no route ${c.req.method} ${c.req.path}`, 'not_found').toBody(), 404));
  app.onError((e, c) => {
    const a = errorAnswer(e);
    if (a.unexpected) s.log(`wgllm serve: ${c.req.method} ${c.req.path} failed: ${(e as Error)?.stack ?? String(e)}`);
    return c.json(a.body, a.status as 400, a.headers);
  });
  return app;
}

function modelCard(v: EngineView) {
  return { id: v.modelName, object: 'model', created: Math.floor(Date.now() / 1000), owned_by: 'wgllm', root: v.modelName, max_model_len: v.engine.maxModelLen };
}

type Start = (v: EngineView, body: unknown, signal: AbortSignal) => Promise<object | AsyncIterable<unknown>>;

/**
 * One generation request: body, backpressure, then the engine. The request is aborted (its KV
 * blocks freed) when the client goes away: the connection's signal for a JSON answer, the
 * stream's cancel for SSE.
 */
async function generate(c: Context, s: AppState, start: Start): Promise<Response> {
  const view = s.view();
  const body = await readJsonBody(c.req.raw, s.bodyLimit);
  const waiting = view.engine.stats().numWaiting;
  if (waiting >= s.maxWaiting) {
    throw new HttpError(429, `The server is busy: ${waiting} requests are waiting to be scheduled (limit ${s.maxWaiting}). Retry later.`, 'too_many_requests', {
      'retry-after': '1',
    });
  }
  const ac = new AbortController();
  const clientGone = () => ac.abort();
  const signal = c.req.raw.signal;
  signal.addEventListener('abort', clientGone, { once: true });
  const untrack = s.track(ac);
  const done = () => {
    signal.removeEventListener('abort', clientGone);
    untrack();
  };
  try {
    const result = await start(view, body, ac.signal);
    if (Symbol.asyncIterator in result) {
      return sseResponse(result as AsyncIterable<unknown>, {
        onCancel: () => ac.abort(),
        onEnd: done,
        onError: (e, unexpected) => {
          if (unexpected) s.log(`wgllm serve: ${c.req.path} stream failed: ${(e as Error)?.stack ?? String(e)}`);
        },
      });
    }
    done();
    return c.json(result);
  } catch (e) {
    done();
    throw e;
  }
}
