/**
 * A model file read over HTTP with range requests, without caching it: for a one-off load, or
 * when storage is full. Small reads (format headers, tensor infos) are served from a window read
 * ahead, so parsing a GGUF header costs a few requests rather than thousands.
 */
import { bytesSource, checkReadRange } from '../../core/byte-source.js';
import { WgllmError } from '../../core/errors.js';
import type { ByteSource } from '../../core/platform.js';

const WINDOW = 1 << 20;

async function get(url: string, range: string | undefined, signal?: AbortSignal): Promise<Response> {
  let r: Response;
  try {
    r = await fetch(url, { ...(range ? { headers: { Range: range } } : {}), ...(signal ? { signal } : {}) });
  } catch (cause) {
    throw new WgllmError('not_found', `Could not fetch ${url} (${String(cause)}). Check the address and your connection; the server must allow cross-origin requests (CORS).`, { cause });
  }
  if (r.status === 404) throw new WgllmError('not_found', `${url} was not found (404).`);
  if (!r.ok) throw new WgllmError('internal', `Could not fetch ${url}: the server answered ${r.status} ${r.statusText}.`);
  return r;
}

/**
 * Opens `url` for random access. A server that ignores Range (answers 200) gets its whole body
 * read into memory once instead.
 */
export async function httpSource(url: string, signal?: AbortSignal): Promise<ByteSource> {
  const probe = await get(url, 'bytes=0-0', signal);
  const m = /\/(\d+)\s*$/.exec(probe.headers.get('content-range') ?? '');
  if (probe.status !== 206 || !m) return bytesSource(url, new Uint8Array(await probe.arrayBuffer()));
  await probe.body?.cancel();
  const size = Number(m[1]);
  let win: { start: number; bytes: Uint8Array } | undefined;
  let closed = false;
  const fetchRange = async (start: number, end: number): Promise<Uint8Array> => {
    const r = await get(url, `bytes=${start}-${end - 1}`, signal);
    const b = new Uint8Array(await r.arrayBuffer());
    if (r.status !== 206 || b.byteLength !== end - start) {
      throw new WgllmError('model_format', `${url}: asked for bytes ${start}-${end - 1}, got ${b.byteLength} bytes (status ${r.status}); the file changed on the server?`);
    }
    return b;
  };
  return {
    name: url,
    size,
    async read(offset: number, length: number): Promise<Uint8Array> {
      if (closed) throw new WgllmError('invalid_argument', `${url}: read after close`);
      checkReadRange(url, size, offset, length);
      if (length >= WINDOW) return fetchRange(offset, offset + length);
      if (!win || offset < win.start || offset + length > win.start + win.bytes.byteLength) {
        win = { start: offset, bytes: await fetchRange(offset, Math.min(size, offset + WINDOW)) };
      }
      return win.bytes.slice(offset - win.start, offset - win.start + length);
    },
    close(): Promise<void> {
      closed = true;
      win = undefined;
      return Promise.resolve();
    },
  };
}
