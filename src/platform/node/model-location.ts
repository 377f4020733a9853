import { stat } from 'node:fs/promises';
import nodePath from 'node:path';
import { WgllmError } from '../../core/errors.js';
import type { ModelLocation } from '../../core/platform.js';
import { folderOpener, openFileSource } from './file-source.js';

/** A local model: a GGUF / llama2.c file, or a Hugging Face-layout folder. */
export async function openLocalModel(path: string): Promise<ModelLocation> {
  const full = nodePath.resolve(path);
  const info = await stat(full).catch((cause: NodeJS.ErrnoException) => {
    throw new WgllmError(
      'not_found',
      `Model '${path}' not found (${cause.code ?? cause.message}). Give the path of a .gguf file, a llama2.c .bin file, ` +
        'or a folder with config.json and model.safetensors.',
      { cause },
    );
  });
  if (info.isDirectory()) return { kind: 'folder', name: full, openFile: folderOpener(full) };
  return { kind: 'file', name: full, source: await openFileSource(full), openSibling: folderOpener(nodePath.dirname(full)) };
}
