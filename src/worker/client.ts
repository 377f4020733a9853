/**
 * The page's side: an engine that lives in a Web Worker, with the in-process engine's interface
 * (chat.completions.create with streaming, completions.create, generate, stats, dispose).
 * Differences that a thread boundary forces: `stats()` and the tokenizer calls return promises
 * (`await engine.stats()` works for both kinds of engine), and errors arrive as WgllmError /
 * RequestError copies with the same `code`, `status` and message.
 *
 * Streams cross as pulls: each `next()` on the page fetches every item the worker buffered since
 * the last one (see StreamPump). Aborting, through the AbortSignal or by leaving the loop early,
 * ends the request in the worker and frees its KV blocks.
 */
import { proxy, releaseProxy, wrap, type Remote } from 'comlink';
import { WgllmError } from '../core/errors.js';
import type { DeviceInfo } from '../gpu/device-info.js';
import type { ChatCompletion, ChatCompletionChunk } from '../engine/openai/chat.js';
import type { Completion } from '../engine/openai/completions.js';
import type { ChatCompletionRequest, CompletionRequest } from '../engine/openai/schemas.js';
import type { EngineStats, GenerateOptions, GenerateParams, GenerationEvent } from '../engine/types.js';
import type { CachedModelFile, StorageUsage } from '../platform/browser/model-cache.js';
import { installErrorTransfer, type LoadedModelInfo, type StartRequest, type WorkerApi, type WorkerEvent, type WorkerLoadOptions, type WorkerLoadProgress } from './protocol.js';

export interface WorkerEngineOptions extends WorkerLoadOptions {
  /** a worker running src/worker/worker.ts (default: one started here) */
  worker?: Worker;
  onProgress?: (p: WorkerLoadProgress) => void;
  /** events after load, such as the GPU device being lost */
  onEvent?: (e: WorkerEvent) => void;
}

/** Starts the bundled worker entry (Vite and other bundlers resolve this URL at build time). */
export function startEngineWorker(): Worker {
  return new Worker(new URL('./worker.ts', import.meta.url), { type: 'module', name: 'wgllm-engine' });
}

let nextId = 0;

export class WorkerEngine {
  private disposed = false;

  readonly chat = {
    completions: {
      create: (body: ChatCompletionRequest, opts: GenerateOptions = {}): Promise<ChatCompletion | AsyncIterable<ChatCompletionChunk>> =>
        this.request({ kind: 'chat', body }, opts) as Promise<ChatCompletion | AsyncIterable<ChatCompletionChunk>>,
    },
  };

  readonly completions = {
    create: (body: CompletionRequest, opts: GenerateOptions = {}): Promise<Completion | AsyncIterable<Completion>> =>
      this.request({ kind: 'completion', body }, opts) as Promise<Completion | AsyncIterable<Completion>>,
  };

  /** the adapter the engine runs on, as `engine.gpu.info` in process */
  readonly gpu: { info: DeviceInfo };

  private constructor(
    private readonly api: Remote<WorkerApi>,
    private readonly worker: Worker,
    readonly info: LoadedModelInfo,
  ) {
    this.gpu = { info: info.device };
  }

  get modelName(): string {
    return this.info.modelName;
  }

  get maxModelLen(): number {
    return this.info.maxModelLen;
  }

  /** Starts a worker (unless one is given), loads the model there, and resolves when it is ready. */
  static async create(opts: WorkerEngineOptions): Promise<WorkerEngine> {
    installErrorTransfer();
    const { worker: given, onProgress, onEvent, ...load } = opts;
    // A relative URL means relative to this page; in the worker it would resolve against the worker script.
    if ('url' in load.model && !load.model.url.startsWith('hf:') && globalThis.location) {
      load.model = { ...load.model, url: new URL(load.model.url, globalThis.location.href).href };
    }
    const worker = given ?? startEngineWorker();
    const api = wrap<WorkerApi>(worker);
    const progress = onProgress ? proxy(onProgress) : undefined;
    const events = onEvent ? proxy(onEvent) : undefined;
    try {
      const info = await api.load(load, progress, events);
      return new WorkerEngine(api, worker, info);
    } catch (e) {
      api[releaseProxy]();
      worker.terminate();
      throw e;
    }
  }

  private async request(req: StartRequest, opts: GenerateOptions): Promise<unknown> {
    const api = this.remote;
    const id = opts.requestId ?? `w${++nextId}-${Date.now().toString(36)}`;
    const onAbort = () => void api.abort(id).catch(() => undefined);
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const started = api.start(id, req);
      // start() registers the request before anything else happens in the worker, so an abort
      // sent after it (even right away) reaches the request.
      if (opts.signal?.aborted) onAbort();
      const r = await started;
      if (!r.stream) {
        opts.signal?.removeEventListener('abort', onAbort);
        return r.result;
      }
      return this.stream(id, () => opts.signal?.removeEventListener('abort', onAbort));
    } catch (e) {
      opts.signal?.removeEventListener('abort', onAbort);
      throw e;
    }
  }

  private stream(id: string, cleanup: () => void): AsyncIterable<unknown> {
    const api = this.api;
    let buffered: unknown[] = [];
    let finished = false;
    const end = () => {
      if (!finished) cleanup();
      finished = true;
    };
    const iterator: AsyncIterator<unknown> = {
      async next() {
        while (!buffered.length && !finished) {
          try {
            const batch = await api.next(id);
            buffered = batch.items;
            if (batch.done) end();
          } catch (e) {
            end();
            throw e;
          }
        }
        if (buffered.length) return { value: buffered.shift(), done: false };
        return { value: undefined, done: true };
      },
      async return() {
        if (!finished) {
          end();
          await api.cancel(id).catch(() => undefined);
        }
        buffered = [];
        return { value: undefined, done: true };
      },
    };
    let taken = false;
    return {
      [Symbol.asyncIterator]() {
        if (taken) throw new TypeError('this stream has already been iterated; a stream can be read once');
        taken = true;
        return iterator;
      },
    };
  }

  /** Streams generation events for a raw prompt (text, tokenized with the model's BOS, or ids). */
  generate(prompt: string | readonly number[], params: GenerateParams = {}, opts: GenerateOptions = {}): AsyncIterable<GenerationEvent> {
    const req: StartRequest = { kind: 'generate', prompt: typeof prompt === 'string' ? prompt : [...prompt], params };
    const pending = this.request(req, opts) as Promise<AsyncIterable<GenerationEvent>>;
    // Its error surfaces on the first next(); until then it must not count as unhandled.
    pending.catch(() => undefined);
    // The in-process generate() returns its stream synchronously; here the stream exists once
    // the worker has accepted the request, so iteration waits for that (and throws its error).
    return {
      [Symbol.asyncIterator]() {
        let inner: AsyncIterator<GenerationEvent> | undefined;
        const get = async () => (inner ??= (await pending)[Symbol.asyncIterator]());
        return {
          next: async () => (await get()).next(),
          return: async () => {
            // A stream never started (the request failed) has nothing to cancel.
            const it = await get().catch(() => undefined);
            return (await it?.return?.()) ?? { value: undefined, done: true };
          },
        };
      },
    };
  }

  /** The worker's API; after dispose, a clear error rather than comlink's "proxy released". */
  private get remote(): Remote<WorkerApi> {
    if (this.disposed) throw new WgllmError('invalid_argument', 'this engine was disposed; create a new one');
    return this.api;
  }

  async stats(): Promise<EngineStats> {
    return this.remote.stats();
  }

  async tokenize(text: string, addSpecialTokens = true): Promise<number[]> {
    return this.remote.tokenize(text, addSpecialTokens);
  }

  async detokenize(ids: number[]): Promise<string> {
    return this.remote.detokenize(ids);
  }

  async listCachedModels(): Promise<CachedModelFile[]> {
    return this.remote.listCachedModels();
  }

  async deleteCachedModel(url: string): Promise<number> {
    return this.remote.deleteCachedModel(url);
  }

  async storageUsage(): Promise<StorageUsage | undefined> {
    return this.remote.storageUsage();
  }

  /** Aborts every request, frees the GPU memory and ends the worker. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    try {
      await this.api.dispose();
    } finally {
      this.api[releaseProxy]();
      this.worker.terminate();
    }
  }
}

/** `createEngine` for a Web Worker: the same options, with the model as a URL or picked files. */
export function createWorkerEngine(opts: WorkerEngineOptions): Promise<WorkerEngine> {
  return WorkerEngine.create(opts);
}
