/**
 * ByteSource over a local file: random-access reads through one FileHandle, so a model file of
 * many GB is never read whole into memory.
 */
import { open, type FileHandle } from 'node:fs/promises';
import * as nodePath from 'node:path';
import { checkReadRange } from '../../core/byte-source.js';
import { WgllmError } from '../../core/errors.js';
import type { ByteSource } from '../../core/platform.js';

function fsError(path: string, e: unknown): WgllmError {
  const code = (e as { code?: unknown } | null)?.code;
  if (code === 'ENOENT' || code === 'ENOTDIR') {
    return new WgllmError('not_found', `${path}: no such file`, { cause: e });
  }
  if (code === 'EISDIR') return new WgllmError('invalid_argument', `${path}: is a directory, not a file`, { cause: e });
  if (code === 'EACCES' || code === 'EPERM') {
    return new WgllmError('invalid_argument', `${path}: permission denied`, { cause: e });
  }
  return new WgllmError('internal', `${path}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
}

/** Opens `path` for reading. Missing files reject with a WgllmError of code 'not_found'. */
export async function openFileSource(path: string): Promise<ByteSource> {
  let handle: FileHandle;
  let size: number;
  try {
    handle = await open(path, 'r');
  } catch (e) {
    throw fsError(path, e);
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw Object.assign(new Error('not a file'), { code: 'EISDIR' });
    size = st.size;
  } catch (e) {
    await handle.close().catch(() => undefined);
    throw fsError(path, e);
  }
  let closed = false;
  const readInto = async (offset: number, out: Uint8Array): Promise<void> => {
    if (closed) throw new WgllmError('invalid_argument', `${path}: read after close`);
    const length = out.byteLength;
    checkReadRange(path, size, offset, length);
    let done = 0;
    // FileHandle.read may return fewer bytes than asked; loop until the range is filled.
    while (done < length) {
      let bytesRead: number;
      try {
        ({ bytesRead } = await handle.read(out, done, length - done, offset + done));
      } catch (e) {
        throw fsError(path, e);
      }
      if (bytesRead === 0) {
        throw new WgllmError('model_format', `${path}: file shrank while reading (wanted ${length} bytes at ${offset})`);
      }
      done += bytesRead;
    }
  };
  return {
    name: path,
    size,
    async read(offset: number, length: number): Promise<Uint8Array> {
      checkReadRange(path, size, offset, length);
      const out = new Uint8Array(length); // [length] u8
      await readInto(offset, out);
      return out;
    },
    readInto,
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await handle.close();
    },
  };
}

/**
 * An `openFile(relPath)` for a model folder (HF layout), as the platform-free readers in
 * src/model/formats expect. Paths that leave the folder are refused.
 */
export function folderOpener(dir: string): (relPath: string) => Promise<ByteSource> {
  const root = nodePath.resolve(dir);
  return (relPath: string) => {
    const full = nodePath.resolve(root, relPath);
    if (full !== root && !full.startsWith(root + nodePath.sep)) {
      return Promise.reject(new WgllmError('invalid_argument', `${relPath}: path leaves the model folder ${dir}`));
    }
    return openFileSource(full);
  };
}
