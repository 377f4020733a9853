/**
 * The worker side: one engine, its requests and their streams, behind the WorkerApi that
 * comlink exposes. Kept apart from the worker entry so that a test (or a page that wants no
 * worker) can expose it on any MessagePort.
 */
import { WgllmError } from '../core/errors.js';
import type { ModelLocation, Platform } from '../core/platform.js';
import { createEngine, type WgllmEngine } from '../engine/create.js';
import { acquireGpu } from '../gpu/acquire.js';
import type { GpuContext } from '../gpu/context.js';
import { pickedFilesModel } from '../platform/browser/file-source.js';
import { createBrowserPlatform } from '../platform/browser/index.js';
import { BrowserModelCache } from '../platform/browser/model-cache.js';
import { openUrlModel } from '../platform/browser/open-model.js';
import type { LoadedModelInfo, StartRequest, StreamBatch, WorkerApi, WorkerEvent, WorkerLoadOptions, WorkerLoadProgress } from './protocol.js';
import { StreamPump } from './stream-pump.js';

function isAsyncIterable(v: unknown): v is AsyncIterable<unknown> {
  return typeof v === 'object' && v !== null && Symbol.asyncIterator in v;
}

export interface EngineHostOptions {
  /** the platform (default: the browser's, tune cache in IndexedDB) */
  platform?: Platform;
  /** where downloaded models are kept (default: the Cache API's 'wgllm-models') */
  modelCache?: BrowserModelCache;
}

export class EngineHost implements WorkerApi {
  private engine: WgllmEngine | undefined;
  private ctx: GpuContext | undefined;
  private readonly controllers = new Map<string, AbortController>();
  private readonly streams = new Map<string, StreamPump<unknown>>();
  private readonly platform: Platform;
  private readonly modelCache: BrowserModelCache;

  constructor(opts: EngineHostOptions = {}) {
    this.platform = opts.platform ?? createBrowserPlatform();
    this.modelCache = opts.modelCache ?? new BrowserModelCache();
  }

  private get live(): WgllmEngine {
    if (!this.engine) throw new WgllmError('invalid_argument', 'no model is loaded: call load() first');
    return this.engine;
  }

  async load(opts: WorkerLoadOptions, onProgress?: (p: WorkerLoadProgress) => void, onEvent?: (e: WorkerEvent) => void): Promise<LoadedModelInfo> {
    await this.dispose();
    // Progress callbacks cross to the page; a page that went away must not fail the load.
    const report = (p: WorkerLoadProgress) => void Promise.resolve(onProgress?.(p)).catch(() => undefined);
    const ctx = await acquireGpu(this.platform);
    this.ctx = ctx;
    report({ phase: 'device', info: ctx.info });
    ctx.device.lost.then((lost) => {
      if (this.ctx !== ctx || lost.reason === 'destroyed') return;
      void Promise.resolve(onEvent?.({ type: 'device-lost', message: lost.message || String(lost.reason) })).catch(() => undefined);
    });
    try {
      let loc: ModelLocation;
      const spec = opts.model;
      if ('files' in spec) loc = pickedFilesModel(spec.files);
      else {
        loc = await openUrlModel(spec.url, {
          cache: spec.cache === false ? false : this.modelCache,
          onDownload: (d) => report({ phase: 'download', ...d }),
        });
      }
      let uploaded = false;
      const engine = await createEngine({
        model: loc,
        platform: this.platform,
        gpu: ctx,
        ...(opts.act ? { act: opts.act } : {}),
        ...(opts.maxModelLen ? { maxModelLen: opts.maxModelLen } : {}),
        ...(opts.maxNumSeqs ? { maxNumSeqs: opts.maxNumSeqs } : {}),
        ...(opts.maxNumBatchedTokens ? { maxNumBatchedTokens: opts.maxNumBatchedTokens } : {}),
        ...(opts.kvCacheBytes ? { kvCacheBytes: opts.kvCacheBytes } : {}),
        ...(opts.tune ? { tune: opts.tune } : {}),
        ...(opts.tuneBudgetMs ? { tuneBudgetMs: opts.tuneBudgetMs } : {}),
        ...(opts.modelName ? { modelName: opts.modelName } : {}),
        onProgress: (p) => {
          report(p);
          // The runner builds its pipelines right after the last weight byte is on the GPU.
          if (p.phase === 'upload' && p.bytesDone >= p.bytesTotal && !uploaded) {
            uploaded = true;
            report({ phase: 'compile' });
          }
        },
      });
      this.engine = engine;
      return {
        modelName: engine.modelName,
        maxModelLen: engine.maxModelLen,
        vocabSize: engine.tokenizer.vocabSize,
        hasChatTemplate: engine.tokenizer.chatTemplate !== undefined,
        act: opts.act ?? (ctx.info.features.f16 ? 'f16' : 'f32'),
        device: ctx.info,
        loadMs: engine.loadMs,
      };
    } catch (e) {
      this.ctx = undefined;
      ctx.destroy();
      throw e;
    }
  }

  async start(id: string, req: StartRequest): Promise<{ stream: true } | { stream: false; result: unknown }> {
    if (this.controllers.has(id)) throw new WgllmError('invalid_argument', `request id '${id}' is already in use`);
    const engine = this.live;
    const ac = new AbortController();
    this.controllers.set(id, ac);
    try {
      const opts = { signal: ac.signal, requestId: id };
      const res =
        req.kind === 'chat'
          ? await engine.chat.completions.create(req.body, opts)
          : req.kind === 'completion'
            ? await engine.completions.create(req.body, opts)
            : engine.generate(req.prompt, req.params, opts);
      if (!isAsyncIterable(res)) {
        this.controllers.delete(id);
        return { stream: false, result: res };
      }
      this.streams.set(id, new StreamPump<unknown>(res as AsyncIterable<unknown>));
      return { stream: true };
    } catch (e) {
      this.controllers.delete(id);
      throw e;
    }
  }

  async next(id: string): Promise<StreamBatch> {
    const pump = this.streams.get(id);
    if (!pump) return { items: [], done: true };
    try {
      const batch = await pump.next();
      if (batch.done) this.forget(id);
      return batch;
    } catch (e) {
      this.forget(id);
      throw e;
    }
  }

  private forget(id: string): void {
    this.streams.delete(id);
    this.controllers.delete(id);
  }

  abort(id: string): void {
    // Messages on the port arrive in order and `start` registers its controller before its
    // first await, so an abort always finds the request it names (or one that already ended).
    this.controllers.get(id)?.abort();
  }

  cancel(id: string): Promise<void> {
    this.controllers.get(id)?.abort();
    this.streams.get(id)?.cancel();
    this.forget(id);
    return Promise.resolve();
  }

  stats() {
    return this.live.stats();
  }

  tokenize(text: string, addSpecialTokens = true): number[] {
    return this.live.tokenizer.encode(text, { addSpecialTokens });
  }

  detokenize(ids: number[]): string {
    return this.live.tokenizer.decode(ids);
  }

  async dispose(): Promise<void> {
    for (const id of [...this.streams.keys()]) await this.cancel(id);
    for (const ac of this.controllers.values()) ac.abort();
    this.controllers.clear();
    const engine = this.engine;
    const ctx = this.ctx;
    this.engine = undefined;
    this.ctx = undefined;
    await engine?.dispose();
    ctx?.destroy();
  }

  listCachedModels() {
    return this.modelCache.list();
  }

  deleteCachedModel(url: string) {
    return this.modelCache.delete(url);
  }

  storageUsage() {
    return this.modelCache.usage();
  }
}
