/**
 * What crosses the boundary between the page and the engine's Web Worker. Everything here is
 * structured-cloneable (File objects included), except the two callbacks, which comlink proxies.
 */
import { transferHandlers } from 'comlink';
import { WgllmError, type ErrorCode } from '../core/errors.js';
import type { DeviceInfo } from '../gpu/device-info.js';
import type { LoadProgress } from '../engine/create.js';
import type { ChatCompletionRequest, CompletionRequest } from '../engine/openai/schemas.js';
import { RequestError } from '../engine/openai/errors.js';
import type { EngineStats, GenerateParams } from '../engine/types.js';
import type { CachedModelFile, StorageUsage } from '../platform/browser/model-cache.js';

/** A model the worker can open: a URL or HF reference (see resolveModelUrl), or picked files. */
export type ModelSpec =
  | { url: string; /** false: read with range requests, store nothing (default true) */ cache?: boolean }
  | { files: File[] };

export interface WorkerLoadOptions {
  model: ModelSpec;
  act?: 'f16' | 'f32';
  maxModelLen?: number;
  maxNumSeqs?: number;
  maxNumBatchedTokens?: number;
  kvCacheBytes?: number;
  tune?: 'off' | 'auto';
  tuneBudgetMs?: number;
  modelName?: string;
}

/** Load progress as the engine reports it, plus the phases only the worker sees. */
export type WorkerLoadProgress =
  | LoadProgress
  | { phase: 'device'; info: DeviceInfo }
  | { phase: 'download'; file: string; bytesDone: number; bytesTotal: number | undefined; cached: boolean }
  /** weights are on the GPU; pipelines are being built (and tuned, with tune: 'auto') */
  | { phase: 'compile' };

export type WorkerEvent = { type: 'device-lost'; message: string };

export interface LoadedModelInfo {
  modelName: string;
  maxModelLen: number;
  vocabSize: number;
  /** whether chat.completions can render prompts (else use completions / generate) */
  hasChatTemplate: boolean;
  act: 'f16' | 'f32';
  device: DeviceInfo;
  loadMs: number;
}

export type StartRequest =
  | { kind: 'chat'; body: ChatCompletionRequest }
  | { kind: 'completion'; body: CompletionRequest }
  | { kind: 'generate'; prompt: string | number[]; params: GenerateParams };

/** One pull of a stream: everything buffered since the last pull. */
export interface StreamBatch<T = unknown> {
  items: T[];
  done: boolean;
}

/** The worker's API, as exposed through comlink (every method is async on the page's side). */
export interface WorkerApi {
  load(opts: WorkerLoadOptions, onProgress?: (p: WorkerLoadProgress) => void, onEvent?: (e: WorkerEvent) => void): Promise<LoadedModelInfo>;
  /** starts a request under a caller-chosen id; a stream is then pulled with `next(id)` */
  start(id: string, req: StartRequest): Promise<{ stream: true } | { stream: false; result: unknown }>;
  next(id: string): Promise<StreamBatch>;
  /** aborts a request (the stream then ends with finish reason 'abort') */
  abort(id: string): void;
  /** drops a stream the page no longer reads, aborting its request */
  cancel(id: string): Promise<void>;
  stats(): EngineStats;
  tokenize(text: string, addSpecialTokens?: boolean): number[];
  detokenize(ids: number[]): string;
  dispose(): Promise<void>;
  listCachedModels(): Promise<CachedModelFile[]>;
  deleteCachedModel(url: string): Promise<number>;
  storageUsage(): Promise<StorageUsage | undefined>;
}

interface SerializedError {
  message: string;
  name: string;
  stack?: string;
  code?: ErrorCode;
  status?: number;
  param?: string | null;
  openaiCode?: string | null;
}

function serializeError(e: unknown): SerializedError {
  if (!(e instanceof Error)) return { message: String(e), name: 'Error' };
  const out: SerializedError = { message: e.message, name: e.name, ...(e.stack ? { stack: e.stack } : {}) };
  if (e instanceof WgllmError) out.code = e.code;
  if (e instanceof RequestError) Object.assign(out, { status: e.status, param: e.param, openaiCode: e.openaiCode });
  return out;
}

function deserializeError(s: SerializedError): Error {
  let e: Error;
  if (s.status !== undefined) {
    e = new RequestError(s.message, s.status as RequestError['status'], s.param ?? null, s.openaiCode ?? null, s.code ?? 'invalid_argument');
  } else if (s.code) e = new WgllmError(s.code, s.message);
  else e = new Error(s.message);
  e.name = s.name;
  // Keep the worker's stack: it says where the failure happened, which the page's would not.
  if (s.stack) e.stack = s.stack;
  return e;
}

const INSTALLED = Symbol.for('wgllm.errorTransfer');

/**
 * Comlink sends thrown errors as plain {name, message}; this keeps WgllmError codes and the
 * RequestError fields across the boundary, so the page can switch on `code` as in-process code
 * does. Both sides must call it (the worker entry and the client do).
 */
export function installErrorTransfer(): void {
  const base = transferHandlers.get('throw');
  if (!base || (base as unknown as Record<symbol, boolean>)[INSTALLED]) return;
  const handler = {
    canHandle: base.canHandle,
    serialize: (thrown: unknown): [unknown, Transferable[]] => [serializeError((thrown as { value: unknown }).value), []],
    deserialize: (s: unknown): never => {
      throw deserializeError(s as SerializedError);
    },
    [INSTALLED]: true,
  };
  transferHandlers.set('throw', handler as typeof base);
}
