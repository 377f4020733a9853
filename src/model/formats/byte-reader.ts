/**
 * Sequential little-endian reads over a ByteSource, in chunks, for headers whose size is only
 * known while parsing them (GGUF metadata can be several MB of vocabulary). Every failure is a
 * 'model_format' WgllmError naming the file, the offset and what was being read.
 */
import { WgllmError } from '../../core/errors.js';
import type { ByteSource } from '../../core/platform.js';

const CHUNK = 1 << 20;
const utf8 = new TextDecoder('utf-8', { fatal: false });

export function formatError(source: ByteSource | string, message: string, cause?: unknown): WgllmError {
  const name = typeof source === 'string' ? source : source.name;
  return new WgllmError('model_format', `${name}: ${message}`, cause === undefined ? undefined : { cause });
}

/** Reads exactly [offset, offset + length) or throws a model_format error saying what was cut off. */
export async function readExact(source: ByteSource, offset: number, length: number, what: string): Promise<Uint8Array> {
  if (offset < 0 || length < 0 || offset + length > source.size) {
    throw formatError(
      source,
      `truncated: ${what} needs bytes ${offset}..${offset + length} but the file has ${source.size} bytes`,
    );
  }
  const bytes = await source.read(offset, length);
  if (bytes.byteLength !== length) {
    throw formatError(source, `short read of ${what}: got ${bytes.byteLength} of ${length} bytes`);
  }
  return bytes;
}

export class ByteReader {
  /** absolute offset of the next byte to read */
  pos: number;
  /** what is being parsed, for error messages ("metadata key 'general.alignment'") */
  context = 'header';
  private buf: Uint8Array = new Uint8Array(0); // [buf.length] u8: bytes [bufStart, bufStart + buf.length) of the source
  private view = new DataView(this.buf.buffer);
  private bufStart = 0;

  constructor(
    readonly source: ByteSource,
    start = 0,
  ) {
    this.pos = start;
  }

  error(message: string): WgllmError {
    return formatError(this.source, `${message} (at byte ${this.pos}, reading ${this.context})`);
  }

  get remaining(): number {
    return this.source.size - this.pos;
  }

  /** Makes the next `n` bytes available; call before each synchronous read below. */
  async need(n: number): Promise<void> {
    const at = this.pos - this.bufStart;
    if (at >= 0 && at + n <= this.buf.length) return;
    if (n > this.remaining) {
      throw this.error(`truncated: needs ${n} more bytes but the file has ${this.remaining} left`);
    }
    const len = Math.min(Math.max(n, CHUNK), this.remaining);
    this.buf = await readExact(this.source, this.pos, len, this.context);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    this.bufStart = this.pos;
  }

  private take(n: number): number {
    const at = this.pos - this.bufStart;
    if (at < 0 || at + n > this.buf.length) throw this.error('internal: read without need()');
    this.pos += n;
    return at;
  }

  u8(): number {
    return this.view.getUint8(this.take(1));
  }
  i8(): number {
    return this.view.getInt8(this.take(1));
  }
  u16(): number {
    return this.view.getUint16(this.take(2), true);
  }
  i16(): number {
    return this.view.getInt16(this.take(2), true);
  }
  u32(): number {
    return this.view.getUint32(this.take(4), true);
  }
  i32(): number {
    return this.view.getInt32(this.take(4), true);
  }
  f32(): number {
    return this.view.getFloat32(this.take(4), true);
  }
  f64(): number {
    return this.view.getFloat64(this.take(8), true);
  }
  /** u64 as a number when it is a safe integer, else as a bigint */
  u64(): number | bigint {
    const v = this.view.getBigUint64(this.take(8), true);
    return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  }
  i64(): number | bigint {
    const v = this.view.getBigInt64(this.take(8), true);
    return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v;
  }
  /** a u64 that must be a count or size no larger than `max` */
  size64(what: string, max: number): number {
    const v = this.u64();
    if (typeof v !== 'number' || v > max) throw this.error(`${what} ${v} is impossible here (at most ${max}): the file is truncated or corrupt`);
    return v;
  }
  bytes(n: number): Uint8Array {
    const at = this.take(n);
    return this.buf.subarray(at, at + n);
  }
  utf8(n: number): string {
    return utf8.decode(this.bytes(n));
  }
}

/** Reads a whole (small) JSON file. Bad UTF-8 or bad JSON are model_format errors naming the file. */
export async function readJson(source: ByteSource, maxBytes = 64 << 20): Promise<unknown> {
  if (source.size > maxBytes) throw formatError(source, `${source.size} bytes is too large for a JSON file`);
  const bytes = await readExact(source, 0, source.size, 'JSON');
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) as unknown;
  } catch (e) {
    throw formatError(source, `not valid JSON: ${e instanceof Error ? e.message : String(e)}`, e);
  }
}
