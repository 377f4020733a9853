/**
 * Model references in Node: a local path, or a Hugging Face Hub model resolved through the
 * standard HF cache ($HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub), laid out
 * as huggingface_hub lays it out (models--org--name/{refs,blobs,snapshots/<commit>/...}), so
 * files that Python tools downloaded are reused and ours are reused by them.
 *
 *   org/name                 the repo's HF checkpoint (config.json + safetensors), or its GGUF
 *   org/name:Q4_K_M          the GGUF file with that quantization tag in its name
 *   org/name/path/file.gguf  one file of the repo
 *   org/name@rev...          a branch, tag or commit (default main)
 *
 * Offline (`offline: true` or HF_HUB_OFFLINE=1) never touches the network. Online, a Hub that
 * cannot be reached falls back to the cached snapshot of the revision when there is one.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, readdir, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import nodePath from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { getHFHubCachePath, listFiles } from '@huggingface/hub';
import { WgllmError } from '../../core/errors.js';

export interface HfRef {
  repo: string;
  revision: string;
  file?: string;
  quant?: string;
}

export interface DownloadProgress {
  file: string;
  bytesDone: number;
  bytesTotal: number;
}

export interface ResolveOptions {
  /** never use the network (default: HF_HUB_OFFLINE) */
  offline?: boolean;
  /** the hub cache folder (default: HF_HUB_CACHE, HF_HOME/hub, ~/.cache/huggingface/hub) */
  cacheDir?: string;
  /** the Hub's URL (default: HF_ENDPOINT or https://huggingface.co) */
  endpoint?: string;
  /** for gated or private repos (default: HF_TOKEN, or the token file huggingface-cli login wrote) */
  token?: string;
  onProgress?: (p: DownloadProgress) => void;
  /** notes worth showing (a fallback to the cache) */
  log?: (message: string) => void;
  signal?: AbortSignal;
}

export interface ResolvedModel {
  /** a file or folder for openLocalModel */
  path: string;
  source: 'local' | 'hf-cache' | 'hf-download';
  repo?: string;
  commit?: string;
}

const REF = /^(?<repo>[A-Za-z0-9][\w.-]*\/[\w.-]+?)(?:@(?<rev>[\w.-]+))?(?::(?<quant>[\w.-]+)|\/(?<file>[^@:]+))?$/;
const COMMIT = /^[0-9a-f]{40}$/;
const HF_FILES = ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'chat_template.jinja', 'chat_template.json'];
const SINGLE = 'model.safetensors';
const INDEX = 'model.safetensors.index.json';

/** Parses `org/name[@rev][:QUANT | /path]`; undefined when `ref` is not shaped like a Hub id. */
export function parseHfRef(ref: string): HfRef | undefined {
  const m = REF.exec(ref);
  if (!m?.groups) return undefined;
  const { repo, rev, quant, file } = m.groups as Record<string, string | undefined>;
  const parts = [...repo!.split('/'), ...(file ? file.split('/') : [])];
  if (parts.some((p) => p === '' || p === '.' || p === '..')) return undefined;
  return { repo: repo!, revision: rev ?? 'main', ...(file ? { file } : {}), ...(quant ? { quant } : {}) };
}

const truthy = (v: string | undefined) => /^(1|true|yes|on)$/i.test(v ?? '');

export function hfOfflineFromEnv(): boolean {
  return truthy(process.env.HF_HUB_OFFLINE);
}

export function hfCacheDir(): string {
  return getHFHubCachePath();
}

async function defaultToken(): Promise<string | undefined> {
  const env = process.env.HF_TOKEN ?? process.env.HUGGING_FACE_HUB_TOKEN;
  if (env) return env;
  const home = process.env.HF_HOME ?? nodePath.join(process.env.XDG_CACHE_HOME ?? nodePath.join(homedir(), '.cache'), 'huggingface');
  const file = process.env.HF_TOKEN_PATH ?? nodePath.join(home, 'token');
  return (await readFile(file, 'utf8').catch(() => ''))?.trim() || undefined;
}

/** What `ref` names without touching the network: a local path, a Hub id, or neither (a WgllmError). */
export function classifyModelRef(ref: string): { local: string } | { hf: HfRef } {
  if (existsSync(ref)) return { local: nodePath.resolve(ref) };
  const hf = /^[./~\\]/.test(ref) ? undefined : parseHfRef(ref);
  if (!hf) {
    throw new WgllmError('not_found', `Model '${ref}' not found: no such file or folder, and not a Hugging Face id (org/name, org/name:QUANT, org/name/file.gguf).`);
  }
  return { hf };
}

/** A local file or folder as is; otherwise a Hub reference resolved through the HF cache. */
export async function resolveModelRef(ref: string, opts: ResolveOptions = {}): Promise<ResolvedModel> {
  const c = classifyModelRef(ref);
  return 'local' in c ? { path: c.local, source: 'local' } : resolveHf(c.hf, opts);
}

/** A Hub reference: the cached snapshot offline, else the repo's listing and what is missing of it. */
export async function resolveHf(ref: HfRef, opts: ResolveOptions = {}): Promise<ResolvedModel> {
  const cache = opts.cacheDir ?? hfCacheDir();
  const repoDir = nodePath.join(cache, `models--${ref.repo.replace('/', '--')}`);
  if (opts.offline ?? hfOfflineFromEnv()) return fromCache(ref, repoDir, cache, 'offline mode');
  const endpoint = (opts.endpoint ?? process.env.HF_ENDPOINT ?? 'https://huggingface.co').replace(/\/+$/, '');
  const token = opts.token ?? (await defaultToken());
  const hubFetch = authorizedFetch(endpoint, token, opts.signal);
  let commit: string;
  let entries: { path: string; size: number; etag: string }[];
  try {
    commit = await revisionCommit(hubFetch, endpoint, ref);
    entries = [];
    for await (const f of listFiles({ repo: { type: 'model', name: ref.repo }, revision: commit, recursive: true, hubUrl: endpoint, fetch: hubFetch })) {
      if (f.type === 'file') entries.push({ path: f.path, size: f.lfs?.size ?? f.size, etag: f.lfs?.oid ?? f.oid ?? '' });
    }
  } catch (e) {
    const unreachable = e instanceof HubUnreachable || (e as { statusCode?: number }).statusCode! >= 500;
    if (!unreachable) throw hubError(e, ref, endpoint);
    const cached = await fromCache(ref, repoDir, cache, 'fallback').catch(() => undefined);
    if (!cached) throw hubError(e, ref, endpoint);
    opts.log?.(`the Hub at ${endpoint} is unreachable (${(e as Error).message}); using the cached snapshot ${cached.commit}`);
    return cached;
  }
  const byPath = new Map(entries.map((e) => [e.path, e]));
  const snapshot = nodePath.join(repoDir, 'snapshots', commit);
  const fetchJson = async (path: string) => {
    await ensure(path);
    return JSON.parse(await readFile(nodePath.join(snapshot, path), 'utf8')) as unknown;
  };
  const ensure = async (path: string) => {
    const entry = byPath.get(path);
    if (!entry) throw new WgllmError('not_found', `${ref.repo}@${ref.revision} has no file '${path}'`);
    if (!entry.etag) throw new WgllmError('model_format', `the Hub listing of ${ref.repo} gives no hash for '${path}'`);
    const target = nodePath.join(snapshot, path);
    const have = await stat(target).catch(() => undefined);
    if (have?.isFile() && have.size === entry.size) return;
    const url = `${endpoint}/${ref.repo}/resolve/${commit}/${path.split('/').map(encodeURIComponent).join('/')}`;
    const blob = nodePath.join(repoDir, 'blobs', entry.etag);
    await downloadBlob(hubFetch, url, blob, entry.size, (done) => opts.onProgress?.({ file: path, bytesDone: done, bytesTotal: entry.size }));
    await linkSnapshotFile(blob, target);
  };
  const pick = await pickFiles(ref, [...byPath.keys()], fetchJson);
  await mkdir(snapshot, { recursive: true });
  if (ref.revision !== commit) await writeRef(repoDir, ref.revision, commit);
  for (const f of pick.files) await ensure(f);
  return { path: nodePath.join(snapshot, pick.entry), source: 'hf-download', repo: ref.repo, commit };
}

async function fromCache(ref: HfRef, repoDir: string, cache: string, why: 'offline mode' | 'fallback'): Promise<ResolvedModel> {
  const hint =
    why === 'offline mode'
      ? `Run once without --offline (and without HF_HUB_OFFLINE) to download it, or download it with \`huggingface-cli download ${ref.repo}\`.`
      : '';
  const missing = (what: string) => new WgllmError('not_found', `${ref.repo}: ${what} in the Hugging Face cache at ${cache} (${why}). ${hint}`.trim());
  if (!existsSync(repoDir)) throw missing('not found');
  let commit = ref.revision;
  if (!COMMIT.test(commit)) {
    commit = (await readFile(nodePath.join(repoDir, 'refs', ref.revision), 'utf8').catch(() => '')).trim();
    if (!COMMIT.test(commit)) throw missing(`no revision '${ref.revision}'`);
  }
  const snapshot = nodePath.join(repoDir, 'snapshots', commit);
  const files = await listTree(snapshot);
  if (!files.length) throw missing(`no snapshot ${commit}`);
  const pick = await pickFiles(ref, files, async (p) => JSON.parse(await readFile(nodePath.join(snapshot, p), 'utf8')) as unknown);
  for (const f of pick.files) {
    if (!(await stat(nodePath.join(snapshot, f)).catch(() => undefined))?.isFile()) throw missing(`'${f}' of snapshot ${commit} is missing (an interrupted download?)`);
  }
  return { path: nodePath.join(snapshot, pick.entry), source: 'hf-cache', repo: ref.repo, commit };
}

/** Relative paths of the files under `dir` (symlinks included; their targets are checked later). */
async function listTree(dir: string, prefix = ''): Promise<string[]> {
  const entries = await readdir(nodePath.join(dir, prefix), { withFileTypes: true }).catch(() => []);
  const out: string[] = [];
  for (const e of entries) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await listTree(dir, rel)));
    else out.push(rel);
  }
  return out;
}

/**
 * Which files of a repo make the model: the named file; else an HF checkpoint (config, tokenizer,
 * safetensors, shards from the index); else one GGUF (by quant tag, or the only one, or Q4_K_M).
 * `entry` is what to open, relative to the snapshot ('' = the snapshot folder itself).
 */
export async function pickFiles(ref: HfRef, paths: string[], readJson: (path: string) => Promise<unknown>): Promise<{ files: string[]; entry: string }> {
  const has = new Set(paths);
  const ggufs = paths.filter((p) => p.toLowerCase().endsWith('.gguf') && !/mmproj/i.test(p)).sort();
  const choices = () => (ggufs.length ? ` Its GGUF files: ${ggufs.join(', ')}.` : '');
  if (ref.file) {
    if (!has.has(ref.file)) throw new WgllmError('not_found', `${ref.repo}@${ref.revision} has no file '${ref.file}'.${choices()}`);
    // llama2.c checkpoints read their tokenizer from a sibling file.
    const dir = nodePath.posix.dirname(ref.file);
    const sibs = ref.file.endsWith('.bin') ? paths.filter((p) => nodePath.posix.dirname(p) === dir && /^(tokenizer|tok\d+)\.bin$/.test(nodePath.posix.basename(p))) : [];
    return { files: [ref.file, ...sibs.filter((s) => s !== ref.file)], entry: ref.file };
  }
  if (!ref.quant && has.has('config.json') && (has.has(SINGLE) || has.has(INDEX))) {
    const meta = HF_FILES.filter((f) => has.has(f));
    if (!has.has(INDEX)) return { files: [...meta, SINGLE], entry: '' };
    const index = (await readJson(INDEX)) as { weight_map?: Record<string, string> };
    const shards = [...new Set(Object.values(index.weight_map ?? {}))];
    if (!shards.length) throw new WgllmError('model_format', `${ref.repo}: ${INDEX} has no weight_map`);
    return { files: [...meta, INDEX, ...shards], entry: '' };
  }
  const tag = ref.quant?.toLowerCase();
  const found = tag ? ggufs.filter((p) => new RegExp(`(^|[-._/])${escapeRe(tag)}([-._]|$)`, 'i').test(p.replace(/\.gguf$/i, ''))) : ggufs;
  let chosen = found.length === 1 ? found[0] : !tag ? found.find((p) => /q4_k_m/i.test(p)) : undefined;
  if (!chosen && found.length > 1 && found.every((p) => /-\d{5}-of-\d{5}\.gguf$/i.test(p))) chosen = found[0];
  if (!chosen) {
    if (!ggufs.length) throw new WgllmError('not_found', `${ref.repo}@${ref.revision} holds neither an HF checkpoint (config.json + model.safetensors) nor .gguf files.`);
    const what = tag ? `no GGUF file tagged '${ref.quant}'` : 'several GGUF files';
    throw new WgllmError('not_found', `${ref.repo}@${ref.revision}: ${what}; pick one as ${ref.repo}:QUANT or ${ref.repo}/FILE.${choices()}`);
  }
  if (/-\d{5}-of-\d{5}\.gguf$/i.test(chosen)) throw new WgllmError('model_unsupported', `${chosen} is one part of a split GGUF; split GGUF files are not supported (merge them with llama-gguf-split --merge)`);
  return { files: [chosen], entry: chosen };
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** fetch for the Hub: the token only to the Hub's own origin, a time limit on each call, clear network errors. */
function authorizedFetch(endpoint: string, token: string | undefined, signal: AbortSignal | undefined): typeof fetch {
  const origin = new URL(endpoint).origin;
  return async (input, init = {}) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const headers = new Headers(init.headers);
    if (token && new URL(url).origin === origin) headers.set('authorization', `Bearer ${token}`);
    const signals = [signal, init.signal ?? undefined].filter((s): s is AbortSignal => s !== undefined);
    try {
      return await fetch(url, { ...init, headers, ...(signals.length ? { signal: AbortSignal.any(signals) } : {}) });
    } catch (e) {
      if (signal?.aborted) throw new WgllmError('aborted', 'the download was cancelled', { cause: e });
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      throw new HubUnreachable(`${new URL(url).origin}: ${cause?.code ?? cause?.message ?? (e as Error).message}`, e);
    }
  };
}

async function revisionCommit(hubFetch: typeof fetch, endpoint: string, ref: HfRef): Promise<string> {
  const res = await hubFetch(`${endpoint}/api/models/${ref.repo}/revision/${encodeURIComponent(ref.revision)}`, { signal: AbortSignal.timeout(30_000) });
  if (!res.ok) throw Object.assign(new Error(`HTTP ${res.status} ${res.statusText}`), { statusCode: res.status });
  const sha = ((await res.json()) as { sha?: unknown }).sha;
  if (typeof sha !== 'string' || !COMMIT.test(sha)) throw new WgllmError('model_format', `the Hub gave no commit for ${ref.repo}@${ref.revision}`);
  return sha;
}

function hubError(e: unknown, ref: HfRef, endpoint: string): Error {
  if (e instanceof WgllmError) return e;
  const status = (e as { statusCode?: number }).statusCode;
  const msg = (e as Error).message;
  if (status === 401 || status === 403) {
    return new WgllmError('not_found', `${ref.repo}: access denied by ${endpoint} (HTTP ${status}): the repo is gated or private; accept its terms on the Hub and set HF_TOKEN.`, { cause: e });
  }
  if (status === 404) return new WgllmError('not_found', `${ref.repo}@${ref.revision}: no such model repo or revision on ${endpoint}.`, { cause: e });
  if (e instanceof HubUnreachable || (status ?? 0) >= 500) {
    return new WgllmError('not_found', `cannot reach the Hugging Face Hub (${msg}) and ${ref.repo} is not in the local cache. Check the network (or HF_ENDPOINT), or use a local path.`, { cause: e });
  }
  return new WgllmError('internal', `${ref.repo}: the Hub request failed: ${msg}`, { cause: e });
}

class HubUnreachable extends Error {
  constructor(message: string, cause: unknown) {
    super(message, { cause });
  }
}

async function writeRef(repoDir: string, revision: string, commit: string): Promise<void> {
  const file = nodePath.join(repoDir, 'refs', revision);
  await mkdir(nodePath.dirname(file), { recursive: true });
  await writeFile(file, commit);
}

/** snapshots/<commit>/<path> -> ../../blobs/<etag>, relative as huggingface_hub makes it (a copy where symlinks fail). */
async function linkSnapshotFile(blob: string, target: string): Promise<void> {
  await mkdir(nodePath.dirname(target), { recursive: true });
  await rm(target, { force: true });
  await symlink(nodePath.relative(nodePath.dirname(target), blob), target).catch(() => copyFile(blob, target));
}

/**
 * Downloads into blobs/<etag>.incomplete, resuming from its length with a Range request (the
 * name huggingface_hub uses, so either tool resumes the other's partial file), then renames.
 */
async function downloadBlob(hubFetch: typeof fetch, url: string, blob: string, size: number, onProgress: (done: number) => void): Promise<void> {
  if ((await stat(blob).catch(() => undefined))?.size === size) return;
  await mkdir(nodePath.dirname(blob), { recursive: true });
  const part = `${blob}.incomplete`;
  let done = (await stat(part).catch(() => undefined))?.size ?? 0;
  if (done > size) {
    await rm(part);
    done = 0;
  }
  if (done < size) {
    const res = await hubFetch(url, { headers: done ? { range: `bytes=${done}-` } : {} });
    if (!res.ok || !res.body) throw Object.assign(new Error(`HTTP ${res.status} for ${url}`), { statusCode: res.status });
    if (res.status !== 206) done = 0; // the whole file came back: start over
    try {
      await pipeline(
        Readable.fromWeb(res.body as NodeReadableStream<Uint8Array>),
        async function* (chunks: AsyncIterable<Uint8Array>) {
          for await (const c of chunks) {
            done += c.byteLength;
            onProgress(done);
            yield c;
          }
        },
        createWriteStream(part, { flags: done ? 'a' : 'w' }),
      );
    } catch (e) {
      throw new WgllmError('not_found', `the download of ${url} stopped after ${done} of ${size} bytes (${(e as Error).message}); run again to resume`, { cause: e });
    }
  }
  if (done !== size) throw new WgllmError('model_format', `${url}: got ${done} bytes, the Hub lists ${size}; run again to resume`);
  // The etag is the content's hash (sha256 for LFS/Xet files, the git blob sha1 otherwise): a
  // resumed or concurrently written file that does not match is thrown away, never used.
  const actual = await contentHash(part, nodePath.basename(blob), size);
  if (actual !== undefined && actual !== nodePath.basename(blob)) {
    await rm(part, { force: true });
    throw new WgllmError('model_format', `${url}: the downloaded bytes do not match the Hub's hash (${actual.slice(0, 12)}… != ${nodePath.basename(blob).slice(0, 12)}…); the partial file was removed: run again`);
  }
  await rename(part, blob);
}

async function contentHash(file: string, etag: string, size: number): Promise<string | undefined> {
  const kind = /^[0-9a-f]{64}$/.test(etag) ? 'sha256' : /^[0-9a-f]{40}$/.test(etag) ? 'sha1' : undefined;
  if (!kind) return undefined;
  const h = createHash(kind);
  if (kind === 'sha1') h.update(`blob ${size}\0`);
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}
