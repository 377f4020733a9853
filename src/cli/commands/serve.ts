import type { WgllmEngine } from '../../engine/create.js';
import { createServer, type WgllmServer } from '../../server/index.js';
import { parse, UsageError } from '../args.js';
import { loadModel, modelSettings, MODEL_OPTIONS, MODEL_OPTIONS_HELP, numberOption, processIo, sizeOption, type CliIo, type LoadedModel } from './run.js';

export const SERVE_HELP = `wgllm serve: an OpenAI-compatible HTTP server

Usage: wgllm serve --model M [options]

Routes: POST /v1/chat/completions, POST /v1/completions (stream: true for SSE), GET /v1/models,
GET /health (200 once the model is loaded, 503 before), GET /metrics (Prometheus, wgllm:*).

Server options:
  --host H                  address to bind (default 127.0.0.1: this machine only)
  --port N                  port (default 8000; 0 picks a free one)
  --served-model-name NAME  the name clients put in "model" (default: the Hub id, or the file name)
  --api-key KEY             require "Authorization: Bearer KEY" on /v1/* (also WGLLM_API_KEY)
  --cors                    allow browser pages of any origin to call the API
  --cors-origin ORIGIN      allow this origin only (repeatable)
  --max-waiting N           requests queued for a batch slot before new ones get 429 (default 256)
  --body-limit SIZE         largest request body (default 4MiB); larger ones get 413
  --shutdown-timeout S      on SIGINT/SIGTERM, seconds to let requests finish before aborting them (default 10)
  --log-requests            one line per request on stderr
${MODEL_OPTIONS_HELP}`;

const SERVE_OPTIONS = {
  ...MODEL_OPTIONS,
  host: { type: 'string' },
  port: { type: 'string', short: 'p' },
  'served-model-name': { type: 'string' },
  'api-key': { type: 'string' },
  cors: { type: 'boolean' },
  'cors-origin': { type: 'string', multiple: true },
  'max-waiting': { type: 'string' },
  'body-limit': { type: 'string' },
  'shutdown-timeout': { type: 'string' },
  'log-requests': { type: 'boolean' },
} as const;

export interface ServeHandle {
  url: string;
  server: WgllmServer;
  /** resolves once the model is loaded and served (rejects if loading failed) */
  ready: Promise<WgllmEngine>;
  /** graceful stop: drain the server, free the engine and the GPU; resolves with the exit status */
  stop(): Promise<number>;
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

/** Listens at once (/health says 503 while loading), then loads the model and serves it. */
export async function startServe(argv: string[], io: CliIo = processIo()): Promise<ServeHandle> {
  const { values } = parse(argv, SERVE_OPTIONS);
  const host = values.host ?? '127.0.0.1';
  const port = numberOption(values, 'port', true) ?? 8000;
  if (port < 0 || port > 65535) throw new UsageError(`--port must be 0..65535, not ${port}`);
  const maxWaiting = numberOption(values, 'max-waiting', true);
  const bodyLimit = sizeOption(values, 'body-limit');
  const timeoutS = numberOption(values, 'shutdown-timeout') ?? 10;
  const apiKey = values['api-key'] ?? (process.env.WGLLM_API_KEY || undefined);
  const cors = values['cors-origin']?.length ? values['cors-origin'] : values.cors === true;
  const settings = await modelSettings(values);
  if (!LOOPBACK.test(host) && !apiKey) {
    io.stderr.write(`warning: listening on ${host} without --api-key: anyone who can reach this port can use the model\n`);
  }
  const abortLoad = new AbortController();
  let model: LoadedModel | undefined;
  const loading = loadModel(settings, io, { ...(values['served-model-name'] ? { modelName: values['served-model-name'] } : {}), signal: abortLoad.signal }).then((m) => {
    model = m;
    return m.engine;
  });
  const server = createServer({
    engine: loading,
    ...(apiKey ? { apiKey } : {}),
    cors,
    ...(maxWaiting !== undefined ? { maxWaiting } : {}),
    ...(bodyLimit !== undefined ? { bodyLimit } : {}),
    ...(settings.chatTemplate !== undefined ? { chatTemplate: settings.chatTemplate } : {}),
    log: (line) => io.stderr.write(`${line}\n`),
    ...(values['log-requests'] ? { onRequest: (r) => io.stderr.write(`${r.method} ${r.path} ${r.status} ${r.ms.toFixed(0)} ms\n`) } : {}),
  });
  let addr: { url: string };
  try {
    addr = await server.listen(port, host);
  } catch (e) {
    abortLoad.abort();
    await loading.then(() => model?.close(), () => undefined);
    throw e;
  }
  io.stderr.write(`listening on ${addr.url} (loading the model; /health answers 503 until it is ready)\n`);
  const ready = server.loaded.then((engine) => {
    io.stderr.write(`serving '${engine.modelName}' at ${addr.url}/v1 (health: /health, metrics: /metrics)\n`);
    return engine;
  });
  let stopping: Promise<number> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      abortLoad.abort();
      await server.close({ timeoutMs: timeoutS * 1000 });
      await loading.then(
        () => model?.close(),
        () => undefined,
      );
      return 0;
    })());
  return { url: addr.url, server, ready, stop };
}

export async function serveCommand(argv: string[], io: CliIo = processIo()): Promise<number> {
  const { values } = parse(argv, SERVE_OPTIONS);
  if (values.help) {
    io.stdout.write(`${SERVE_HELP}\n`);
    return 0;
  }
  const handle = await startServe(argv, io);
  return new Promise<number>((resolve) => {
    let signals = 0;
    const onSignal = (sig: NodeJS.Signals) => {
      if (++signals > 1) {
        io.stderr.write(`${sig} again: exiting now\n`);
        process.exit(130);
      }
      io.stderr.write(`${sig}: shutting down (requests in flight get up to ${values['shutdown-timeout'] ?? 10} s; ${sig} again to exit now)\n`);
      handle.stop().then(resolve, (e: unknown) => {
        io.stderr.write(`shutdown failed: ${(e as Error).message}\n`);
        resolve(1);
      });
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    handle.ready.catch((e: unknown) => {
      io.stderr.write(`wgllm serve: the model failed to load: ${(e as Error).message}\n`);
      void handle.stop().then(() => resolve(1));
    });
  });
}
