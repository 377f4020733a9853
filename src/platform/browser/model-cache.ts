/**
 * Downloaded model files, kept across page loads in the Cache API (one entry per file URL).
 * The Cache API stores bodies on disk and hands them back as disk-backed Blobs, so reading a
 * slice of a cached model does not load the whole file; it exists in pages and in workers alike.
 */
import { WgllmError } from '../../core/errors.js';

export interface CachedModelFile {
  url: string;
  bytes: number;
  /** ms since the epoch */
  storedAt: number;
}

export interface StorageUsage {
  usage: number;
  quota: number;
}

export type DownloadProgress = (bytesDone: number, bytesTotal: number | undefined) => void;

const STORED_AT = 'x-wgllm-stored-at';

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

export function isQuotaError(e: unknown): boolean {
  const name = (e as { name?: unknown } | null)?.name;
  return name === 'QuotaExceededError' || (e instanceof WgllmError && e.code === 'out_of_memory' && /storage/i.test(e.message));
}

function quotaError(what: string, need: number | undefined, est: StorageUsage | undefined, cause?: unknown): WgllmError {
  const room = est ? ` This site may store ${formatBytes(est.quota)} and already uses ${formatBytes(est.usage)}.` : '';
  const size = need ? ` (${formatBytes(need)})` : '';
  return new WgllmError(
    'out_of_memory',
    `Browser storage is full: ${what}${size} does not fit in the model cache.${room} ` +
      'Delete cached models you no longer need, free disk space, or load the model without caching.',
    cause === undefined ? undefined : { cause },
  );
}

function absolute(url: string): string {
  return new URL(url, globalThis.location?.href).href;
}

export class BrowserModelCache {
  readonly cacheName: string;

  constructor(opts: { cacheName?: string } = {}) {
    this.cacheName = opts.cacheName ?? 'wgllm-models';
  }

  static available(): boolean {
    return typeof globalThis.caches !== 'undefined';
  }

  private open(): Promise<Cache> {
    if (!BrowserModelCache.available()) {
      return Promise.reject(new WgllmError('unsupported', 'The Cache API is not available (it needs https or localhost); load models without caching.'));
    }
    return caches.open(this.cacheName);
  }

  /** The cached file as a disk-backed Blob, or undefined when it is not cached. */
  async get(url: string): Promise<Blob | undefined> {
    const r = await (await this.open()).match(absolute(url));
    return r ? r.blob() : undefined;
  }

  async usage(): Promise<StorageUsage | undefined> {
    const est = await globalThis.navigator?.storage?.estimate?.();
    return est?.quota !== undefined ? { usage: est.usage ?? 0, quota: est.quota } : undefined;
  }

  /**
   * Downloads `url` into the cache and returns it as a Blob. A download that fails or ends
   * short leaves nothing behind, so a later load never reads a truncated model.
   */
  async fetchInto(url: string, onProgress?: DownloadProgress, signal?: AbortSignal): Promise<Blob> {
    const key = absolute(url);
    const cache = await this.open();
    let resp: Response;
    try {
      resp = await fetch(key, signal ? { signal } : {});
    } catch (cause) {
      if (signal?.aborted) throw new WgllmError('aborted', `download of ${key} was cancelled`, { cause });
      throw new WgllmError('not_found', `Could not download ${key} (${String(cause)}). Check the address and your connection; the server must allow cross-origin requests (CORS).`, { cause });
    }
    if (!resp.ok || !resp.body) {
      const code = resp.status === 404 ? 'not_found' : 'internal';
      throw new WgllmError(code, `Could not download ${key}: the server answered ${resp.status} ${resp.statusText}.`);
    }
    // Compressed transfers report the compressed length; progress then stops at what arrived.
    const encoded = Boolean(resp.headers.get('content-encoding'));
    const total = encoded ? undefined : Number(resp.headers.get('content-length')) || undefined;
    const est = await this.usage();
    if (total !== undefined && est && total > est.quota - est.usage) throw quotaError(key, total, est);
    let done = 0;
    const counted = resp.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, ctl) {
          done += chunk.byteLength;
          onProgress?.(done, total);
          ctl.enqueue(chunk);
        },
        flush() {
          if (total !== undefined && done !== total) throw new WgllmError('internal', `download of ${key} ended after ${done} of ${total} bytes; try again`);
        },
      }),
    );
    const headers = new Headers({ 'content-type': 'application/octet-stream', [STORED_AT]: String(Date.now()) });
    try {
      await cache.put(key, new Response(counted, { headers }));
    } catch (e) {
      await cache.delete(key).catch(() => undefined);
      if (isQuotaError(e)) throw quotaError(key, total ?? done, await this.usage().catch(() => undefined), e);
      if (e instanceof WgllmError) throw e;
      if (signal?.aborted) throw new WgllmError('aborted', `download of ${key} was cancelled`, { cause: e });
      throw new WgllmError('internal', `Could not store ${key} in the model cache (${String(e)}).`, { cause: e });
    }
    const blob = await this.get(key);
    if (!blob) throw new WgllmError('internal', `${key} vanished from the model cache right after it was stored (storage cleared?)`);
    return blob;
  }

  /** The cached blob, downloading it first when it is not cached. */
  async getOrFetch(url: string, onProgress?: DownloadProgress, signal?: AbortSignal): Promise<{ blob: Blob; cached: boolean }> {
    const hit = await this.get(url);
    if (hit) {
      onProgress?.(hit.size, hit.size);
      return { blob: hit, cached: true };
    }
    return { blob: await this.fetchInto(url, onProgress, signal), cached: false };
  }

  async list(): Promise<CachedModelFile[]> {
    const cache = await this.open();
    const out: CachedModelFile[] = [];
    for (const req of await cache.keys()) {
      const r = await cache.match(req);
      if (!r) continue;
      // blob() of a cached response is disk-backed: its size is known without reading it.
      const bytes = (await r.blob()).size;
      out.push({ url: req.url, bytes, storedAt: Number(r.headers.get(STORED_AT)) || 0 });
    }
    return out.sort((a, b) => a.url.localeCompare(b.url));
  }

  /** Deletes one file, or every file whose URL starts with `url` when it ends with '/'. */
  async delete(url: string): Promise<number> {
    const cache = await this.open();
    const key = absolute(url);
    if (!key.endsWith('/')) return (await cache.delete(key)) ? 1 : 0;
    let n = 0;
    for (const req of await cache.keys()) if (req.url.startsWith(key) && (await cache.delete(req))) n++;
    return n;
  }

  async clear(): Promise<void> {
    if (BrowserModelCache.available()) await caches.delete(this.cacheName);
  }
}
