/**
 * In-memory ByteSource: a model that already sits in memory (a fetched ArrayBuffer, an OPFS
 * file read whole, a test fixture). Pure TS, so it works in browsers, workers and Node alike.
 */
import { WgllmError } from './errors.js';
import type { ByteSource } from './platform.js';

/** Throws unless [offset, offset + length) is a valid range of a source of `size` bytes. */
export function checkReadRange(name: string, size: number, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
    throw new WgllmError('invalid_argument', `${name}: bad read range (offset ${offset}, length ${length})`);
  }
  if (offset + length > size) {
    throw new WgllmError(
      'invalid_argument',
      `${name}: read of ${length} bytes at offset ${offset} goes past the end (${size} bytes)`,
    );
  }
}

/**
 * Wraps `bytes` (not copied) as a ByteSource. Each read returns a fresh copy, so a caller that
 * transfers or modifies what it read never changes the source.
 */
export function bytesSource(name: string, bytes: Uint8Array): ByteSource {
  let closed = false;
  return {
    name,
    size: bytes.byteLength,
    read(offset: number, length: number): Promise<Uint8Array> {
      try {
        if (closed) throw new WgllmError('invalid_argument', `${name}: read after close`);
        checkReadRange(name, bytes.byteLength, offset, length);
        return Promise.resolve(bytes.slice(offset, offset + length));
      } catch (e) {
        return Promise.reject(e);
      }
    },
    close(): Promise<void> {
      closed = true;
      return Promise.resolve();
    },
  };
}
