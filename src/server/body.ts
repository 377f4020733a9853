import { HttpError } from './errors.js';

const JSON_TYPE = /^application\/(?:[\w.+-]*\+)?json\s*(?:;|$)/i;
// A lone UTF-16 surrogate (JSON allows "\ud800"): tokenizers expect well-formed text.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * Reads a request body as JSON, never holding more than `limit` bytes: a declared length over
 * the limit is refused before reading, and a chunked body is cut off as soon as it passes it.
 * Every way a body can be wrong is a 4xx (415 type, 413 size, 400 encoding or syntax).
 */
export async function readJsonBody(req: Request, limit: number): Promise<unknown> {
  const type = req.headers.get('content-type');
  // No content type is accepted (curl --data-binary, minimal clients); a different one is not.
  if (type !== null && !JSON_TYPE.test(type)) {
    throw new HttpError(415, `Content-Type must be application/json, not '${type.slice(0, 100)}'`, 'unsupported_media_type');
  }
  const declared = req.headers.get('content-length');
  if (declared !== null && Number(declared) > limit) throw tooLarge(limit);
  if (!req.body) throw new HttpError(400, 'the request has no body; send a JSON object', 'invalid_json');
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = req.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      // A body without a declared length: read on (discarding) up to a bound, so that a
      // client still writing its body can read the 413 instead of seeing a reset socket.
      await discard(reader, size, limit * DISCARD_FACTOR);
      throw tooLarge(limit);
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.byteLength;
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new HttpError(400, 'the request body is not valid UTF-8', 'invalid_json');
  }
  if (text.trim() === '') throw new HttpError(400, 'the request body is empty; send a JSON object', 'invalid_json');
  try {
    return JSON.parse(text, (_key, v: unknown) => (typeof v === 'string' ? v.replace(LONE_SURROGATE, '\uFFFD') : v));
  } catch (e) {
    throw new HttpError(400, `the request body is not valid JSON: ${(e as Error).message}`, 'invalid_json');
  }
}

const DISCARD_FACTOR = 8;

async function discard(reader: ReadableStreamDefaultReader<Uint8Array>, size: number, bound: number): Promise<void> {
  while (size <= bound) {
    const { done, value } = await reader.read();
    if (done) return;
    size += value.byteLength;
  }
  await reader.cancel().catch(() => undefined);
}

function tooLarge(limit: number): HttpError {
  return new HttpError(413, `the request body is larger than the server's limit of ${limit} bytes`, 'request_too_large');
}
