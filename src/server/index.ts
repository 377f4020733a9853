import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import type { Hono } from 'hono';
import { WgllmError } from '../core/errors.js';
import type { WgllmEngine } from '../engine/create.js';
import { buildApp, type AppState } from './app.js';
import { engineView, type EngineView } from './engine-view.js';
import { HttpError } from './errors.js';
import { ServerMetrics } from './metrics.js';

export { engineView, type EngineView, type EngineViewOptions } from './engine-view.js';
export { ServerMetrics } from './metrics.js';
export { HttpError } from './errors.js';

export interface ServerOptions {
  /** the engine, or its loading promise: until it resolves /health is 503 and the API answers 503 */
  engine: WgllmEngine | Promise<WgllmEngine>;
  /** the name clients use in `model` (default: the engine's modelName); nothing else is matched */
  modelName?: string;
  /** require `Authorization: Bearer <apiKey>` on /v1/* */
  apiKey?: string;
  /** CORS: off by default; true allows any origin, or a list of allowed origins */
  cors?: boolean | string[];
  /** requests waiting for a batch slot before new ones get 429 (default 256) */
  maxWaiting?: number;
  /** the largest request body in bytes (default 4 MiB); more is a 413 */
  bodyLimit?: number;
  /** a Jinja chat template to use instead of the model's */
  chatTemplate?: string;
  /** where unexpected errors are reported (default: console.error) */
  log?: (line: string) => void;
  /** called after each answered HTTP request (access log) */
  onRequest?: AppState['onRequest'];
}

export interface WgllmServer {
  /** the Hono app: `app.fetch(request)` serves without a socket */
  readonly app: Hono;
  readonly metrics: ServerMetrics;
  /** true once the engine is loaded */
  readonly ready: boolean;
  /** resolves once the engine is loaded (rejects if loading failed) */
  readonly loaded: Promise<WgllmEngine>;
  /** the Node HTTP server after listen() */
  readonly httpServer: Server | undefined;
  /** listens on host (default 127.0.0.1) and port (0: any free one) */
  listen(port?: number, host?: string): Promise<{ url: string; host: string; port: number }>;
  /**
   * Graceful stop: refuse new requests, stop accepting connections, let requests in flight
   * finish for up to timeoutMs (default 10 s), abort the rest. The engine is not disposed:
   * whoever created it does that.
   */
  close(opts?: { timeoutMs?: number }): Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** An OpenAI-compatible HTTP server over one engine (see buildApp for the routes). */
export function createServer(opts: ServerOptions): WgllmServer {
  const maxWaiting = opts.maxWaiting ?? 256;
  const bodyLimit = opts.bodyLimit ?? 4 << 20;
  if (!(Number.isInteger(maxWaiting) && maxWaiting >= 1)) throw new WgllmError('invalid_argument', `maxWaiting must be an integer >= 1, got ${maxWaiting}`);
  if (!(Number.isInteger(bodyLimit) && bodyLimit >= 1024)) throw new WgllmError('invalid_argument', `bodyLimit must be an integer >= 1024, got ${bodyLimit}`);
  const metrics = new ServerMetrics();
  const inflight = new Set<AbortController>();
  let view: EngineView | undefined;
  let loadError: unknown;
  let draining = false;
  let http: Server | undefined;

  const loaded = Promise.resolve(opts.engine).then(
    (engine) => {
      view = engineView(engine, {
        ...(opts.modelName !== undefined ? { modelName: opts.modelName } : {}),
        ...(opts.chatTemplate !== undefined ? { chatTemplate: opts.chatTemplate } : {}),
        tap: metrics.tap,
      });
      metrics.bindEngine(() => engine.stats());
      return engine;
    },
    (e: unknown) => {
      loadError = e ?? new Error('the engine failed to load');
      throw e;
    },
  );
  // The caller sees the failure through `loaded`; this only keeps it from being "unhandled".
  loaded.catch(() => undefined);

  const state: AppState = {
    view() {
      if (draining) throw new HttpError(503, 'the server is shutting down', 'shutting_down', { 'retry-after': '1' });
      if (!view) {
        const why = loadError !== undefined ? 'the model failed to load' : 'the model is still loading';
        throw new HttpError(503, `${why}; retry later`, 'model_not_ready', { 'retry-after': '1' });
      }
      return view;
    },
    get ready() {
      return view !== undefined;
    },
    get draining() {
      return draining;
    },
    get loadError() {
      return loadError;
    },
    metrics,
    maxWaiting,
    bodyLimit,
    apiKey: opts.apiKey,
    cors: opts.cors ?? false,
    track(ac) {
      inflight.add(ac);
      return () => inflight.delete(ac);
    },
    log: opts.log ?? ((line) => console.error(line)),
    ...(opts.onRequest ? { onRequest: opts.onRequest } : {}),
  };
  const app = buildApp(state);

  return {
    app,
    metrics,
    loaded,
    get ready() {
      return view !== undefined;
    },
    get httpServer() {
      return http;
    },
    listen(port = 0, host = '127.0.0.1') {
      if (http) return Promise.reject(new WgllmError('invalid_argument', 'this server is already listening'));
      return new Promise((resolve, reject) => {
        const server = serve({ fetch: app.fetch, port, hostname: host, overrideGlobalObjects: false, createServer: createHttpServer }) as Server;
        http = server;
        server.once('error', (e: NodeJS.ErrnoException) => {
          http = undefined;
          reject(new WgllmError('invalid_argument', `cannot listen on ${host}:${port}: ${e.code ?? e.message}`, { cause: e }));
        });
        server.once('listening', () => {
          const a = server.address() as AddressInfo;
          const shown = a.family === 'IPv6' ? `[${a.address}]` : a.address;
          resolve({ url: `http://${shown}:${a.port}`, host: a.address, port: a.port });
        });
      });
    },
    async close({ timeoutMs = 10_000 } = {}) {
      draining = true;
      const server = http;
      const closed = server ? new Promise<void>((r) => server.close(() => r())) : Promise.resolve();
      server?.closeIdleConnections();
      const deadline = Date.now() + timeoutMs;
      while (inflight.size && Date.now() < deadline) await sleep(20);
      for (const ac of inflight) ac.abort();
      // Aborted requests end within a step; then their connections go idle and are closed.
      const hard = Date.now() + 2_000;
      while (server && Date.now() < hard) {
        server.closeIdleConnections();
        if (await Promise.race([closed.then(() => true), sleep(20).then(() => false)])) break;
      }
      server?.closeAllConnections();
      await closed;
      http = undefined;
    },
  };
}
