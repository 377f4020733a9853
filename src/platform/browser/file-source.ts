/**
 * Models the user picked from disk (an <input type="file">, drag and drop, or the File System
 * Access API): a `File` is a Blob, and `blob.slice().arrayBuffer()` reads only the bytes asked
 * for, so a multi-GB model never sits whole in memory. Files are structured-cloneable, so the
 * page can hand them to a Web Worker, which builds these sources there.
 */
import { checkReadRange } from '../../core/byte-source.js';
import { WgllmError } from '../../core/errors.js';
import type { ByteSource, ModelLocation, OpenFile } from '../../core/platform.js';

/** A ByteSource over a Blob (a picked File, or a Blob read from the Cache API). */
export function blobSource(name: string, blob: Blob): ByteSource {
  let closed = false;
  return {
    name,
    size: blob.size,
    async read(offset: number, length: number): Promise<Uint8Array> {
      if (closed) throw new WgllmError('invalid_argument', `${name}: read after close`);
      checkReadRange(name, blob.size, offset, length);
      try {
        return new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer());
      } catch (cause) {
        // Chromium throws NotReadableError when the file changed or was removed after picking.
        throw new WgllmError('not_found', `${name} can no longer be read (${String(cause)}): was it moved or changed? Pick it again.`, { cause });
      }
    },
    close(): Promise<void> {
      closed = true;
      return Promise.resolve();
    },
  };
}

/** A picked file's path inside the picked folder ('config.json', 'onnx/x.bin'), or its name. */
export function relativePathOf(file: File): string {
  const rel = file.webkitRelativePath;
  if (!rel) return file.name;
  // A directory pick gives 'folder/sub/file': the folder itself is not part of the model's layout.
  const parts = rel.split('/');
  return parts.length > 1 ? parts.slice(1).join('/') : rel;
}

function opener(byPath: Map<string, File>, what: string): OpenFile {
  return (relPath: string) => {
    const f = byPath.get(relPath) ?? byPath.get(relPath.split('/').pop() ?? relPath);
    if (!f) {
      return Promise.reject(new WgllmError('not_found', `${relPath} is not among the picked files of ${what}; pick it together with the others.`));
    }
    return Promise.resolve(blobSource(relPath, f));
  };
}

const PICK_HELP =
  'Pick one .gguf file (or a llama2.c .bin with its tokenizer .bin), or the files of a Hugging Face model folder: ' +
  'config.json, model.safetensors, tokenizer.json and tokenizer_config.json.';

/**
 * What a set of picked files is: a Hugging Face folder (config.json present), or one model file
 * (a .gguf, else a llama2.c .bin) whose siblings are the other picked files.
 */
export function pickedFilesModel(files: readonly File[]): ModelLocation {
  if (files.length === 0) throw new WgllmError('invalid_argument', `No files were picked. ${PICK_HELP}`);
  const byPath = new Map<string, File>();
  for (const f of files) {
    byPath.set(relativePathOf(f), f);
    if (!byPath.has(f.name)) byPath.set(f.name, f);
  }
  const folderName = files[0]?.webkitRelativePath.split('/')[0] || 'picked files';
  if (byPath.has('config.json')) {
    const hasWeights = [...byPath.keys()].some((p) => p.endsWith('.safetensors') || p.endsWith('.safetensors.index.json'));
    if (!hasWeights) throw new WgllmError('invalid_argument', `config.json was picked without model.safetensors. ${PICK_HELP}`);
    return { kind: 'folder', name: folderName, openFile: opener(byPath, folderName) };
  }
  const ggufs = files.filter((f) => f.name.toLowerCase().endsWith('.gguf'));
  if (ggufs.length > 1) throw new WgllmError('invalid_argument', `${ggufs.length} .gguf files were picked; pick just one.`);
  // llama2.c: the weights are the largest .bin (the tokenizer .bin beside them is a few KB).
  const bins = files.filter((f) => f.name.toLowerCase().endsWith('.bin')).sort((a, b) => b.size - a.size);
  const main = ggufs[0] ?? bins[0];
  if (!main) throw new WgllmError('invalid_argument', `None of the picked files is a model (${files.map((f) => f.name).join(', ')}). ${PICK_HELP}`);
  return { kind: 'file', name: main.name, source: blobSource(main.name, main), openSibling: opener(byPath, main.name) };
}
