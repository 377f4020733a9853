/**
 * Opening a model by URL in a browser: one file (a .gguf, or a llama2.c .bin with its tokenizer
 * beside it) or a Hugging Face folder (config.json, model.safetensors, tokenizer files). Files
 * go through the model cache by default, so a model is downloaded once; without a cache they
 * are read with HTTP range requests.
 */
import { WgllmError } from '../../core/errors.js';
import type { ByteSource, ModelLocation, OpenFile } from '../../core/platform.js';
import { blobSource } from './file-source.js';
import { httpSource } from './http-source.js';
import { BrowserModelCache } from './model-cache.js';

export interface DownloadEvent {
  /** the file's URL */
  file: string;
  bytesDone: number;
  bytesTotal: number | undefined;
  /** true when it came from the cache without a download */
  cached: boolean;
}

export interface OpenUrlOptions {
  /** where downloads are kept (default: a BrowserModelCache); false reads over HTTP, storing nothing */
  cache?: BrowserModelCache | false;
  onDownload?: (e: DownloadEvent) => void;
  signal?: AbortSignal;
}

export type ResolvedModelUrl = { kind: 'file'; url: string } | { kind: 'folder'; baseUrl: string };

const HF = 'https://huggingface.co';

/**
 * Where a model reference points:
 * - `hf:owner/repo[@rev]` or `https://huggingface.co/owner/repo[/tree/rev]`: a Hugging Face folder;
 * - `hf:owner/repo[@rev]/file.gguf`, `https://huggingface.co/owner/repo/blob|resolve/rev/file`: one file;
 * - any other URL (absolute or relative to the page): a folder when it ends with '/', else a file.
 */
export function resolveModelUrl(ref: string): ResolvedModelUrl {
  const hf = /^hf:([^/@\s]+\/[^/@\s]+)(?:@([^/\s]+))?(?:\/(.+))?$/.exec(ref.trim());
  if (hf) {
    const base = `${HF}/${hf[1]}/resolve/${hf[2] ?? 'main'}/`;
    return hf[3] ? { kind: 'file', url: base + hf[3] } : { kind: 'folder', baseUrl: base };
  }
  const abs = new URL(ref.trim(), globalThis.location?.href);
  if (abs.origin === HF) {
    const [owner, repo, verb, rev, ...rest] = abs.pathname.split('/').filter(Boolean);
    if (!owner || !repo) throw new WgllmError('invalid_argument', `${ref}: give a model repository (https://huggingface.co/owner/name) or a file in one`);
    const base = `${HF}/${owner}/${repo}/resolve/${rev ?? 'main'}/`;
    if ((verb === 'blob' || verb === 'resolve') && rest.length) return { kind: 'file', url: base + rest.join('/') };
    return { kind: 'folder', baseUrl: base };
  }
  return abs.pathname.endsWith('/') ? { kind: 'folder', baseUrl: abs.href } : { kind: 'file', url: abs.href };
}

/** Opens one URL as a ByteSource, through the cache when there is one. */
export async function openUrlFile(url: string, opts: OpenUrlOptions = {}): Promise<ByteSource> {
  const cache = opts.cache === undefined ? (BrowserModelCache.available() ? new BrowserModelCache() : false) : opts.cache;
  if (!cache) {
    const src = await httpSource(url, opts.signal);
    opts.onDownload?.({ file: url, bytesDone: src.size, bytesTotal: src.size, cached: false });
    return src;
  }
  const { blob, cached } = await cache.getOrFetch(url, (bytesDone, bytesTotal) => opts.onDownload?.({ file: url, bytesDone, bytesTotal, cached: false }), opts.signal);
  if (cached) opts.onDownload?.({ file: url, bytesDone: blob.size, bytesTotal: blob.size, cached: true });
  return blobSource(url, blob);
}

function urlOpener(baseUrl: string, opts: OpenUrlOptions): OpenFile {
  return (relPath: string) => openUrlFile(new URL(relPath, baseUrl).href, opts);
}

/** The ModelLocation of a model reference (see resolveModelUrl). */
export async function openUrlModel(ref: string, opts: OpenUrlOptions = {}): Promise<ModelLocation> {
  const r = resolveModelUrl(ref);
  if (r.kind === 'folder') {
    const name = r.baseUrl.replace(/\/resolve\/[^/]+\/$/, '/').replace(/\/$/, '').split('/').pop() ?? r.baseUrl;
    return { kind: 'folder', name, openFile: urlOpener(r.baseUrl, opts) };
  }
  if (/\.safetensors$/i.test(new URL(r.url).pathname)) {
    throw new WgllmError('invalid_argument', `${ref}: give the folder that holds this safetensors file (its URL ending in '/'), not the file`);
  }
  const source = await openUrlFile(r.url, opts);
  return { kind: 'file', name: new URL(r.url).pathname.split('/').pop() ?? r.url, source, openSibling: urlOpener(r.url, opts) };
}
