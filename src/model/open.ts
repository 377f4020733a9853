import { WgllmError, isWgllmError } from '../core/errors.js';
import type { ModelLocation, OpenFile } from '../core/platform.js';
import { loadTokenizer, type Tokenizer } from '../tokenizer/index.js';
import { detectFormat, openModel, type ModelFile } from './formats/index.js';

/**
 * Opens a model and its tokenizer from wherever the platform found it: a GGUF (tokenizer in its
 * metadata), a llama2.c .bin (tokenizer.bin beside it), or a Hugging Face folder
 * (tokenizer.json + tokenizer_config.json).
 */
export interface LoadedModelFiles {
  model: ModelFile;
  tokenizer: Tokenizer;
}

async function readJson(openFile: OpenFile, relPath: string, required: boolean): Promise<unknown> {
  let src;
  try {
    src = await openFile(relPath);
  } catch (e) {
    if (!required && isWgllmError(e, 'not_found')) return undefined;
    throw e;
  }
  try {
    const text = new TextDecoder().decode(await src.read(0, src.size));
    try {
      return JSON.parse(text);
    } catch (cause) {
      throw new WgllmError('model_format', `${relPath}: not valid JSON (${(cause as Error).message})`, { cause });
    }
  } finally {
    await src.close();
  }
}

/** llama2.c tokenizers: `tokenizer.bin` by convention; the stories models ship `tok<vocab>.bin`. */
async function llama2cTokenizer(model: ModelFile, openSibling: OpenFile | undefined): Promise<Tokenizer> {
  if (!openSibling) throw new WgllmError('not_found', `${model.name}: a llama2.c model needs its tokenizer.bin beside it`);
  for (const name of ['tokenizer.bin', `tok${model.config.vocabSize}.bin`]) {
    let src;
    try {
      src = await openSibling(name);
    } catch (e) {
      if (isWgllmError(e, 'not_found')) continue;
      throw e;
    }
    try {
      const data = await src.read(0, src.size);
      return loadTokenizer({ type: 'llama2c', data, vocabSize: model.config.vocabSize });
    } finally {
      await src.close();
    }
  }
  throw new WgllmError('not_found', `${model.name}: no tokenizer.bin (or tok${model.config.vocabSize}.bin) beside the llama2.c model`);
}

export async function openModelFiles(loc: ModelLocation): Promise<LoadedModelFiles> {
  if (loc.kind === 'folder') {
    const model = await openModel({ kind: 'hf', openFile: loc.openFile, name: loc.name });
    try {
      const tokenizerJson = await readJson(loc.openFile, 'tokenizer.json', true);
      const tokenizerConfig = await readJson(loc.openFile, 'tokenizer_config.json', false);
      const tokenizer = loadTokenizer({
        type: 'hf',
        tokenizerJson: tokenizerJson as Record<string, unknown>,
        ...(tokenizerConfig ? { tokenizerConfig: tokenizerConfig as Record<string, unknown> } : {}),
      } as Parameters<typeof loadTokenizer>[0]);
      return { model, tokenizer };
    } catch (e) {
      await model.close();
      throw e;
    }
  }
  const kind = await detectFormat(loc.source);
  if (kind === 'safetensors') {
    throw new WgllmError('invalid_argument', `${loc.name}: give the folder that holds this safetensors file and its config.json`);
  }
  const model = await openModel({ kind, source: loc.source });
  try {
    if (kind === 'gguf') {
      const metadata = Object.fromEntries(model.ggufMetadata ?? []);
      return { model, tokenizer: loadTokenizer({ type: 'gguf', metadata } as Parameters<typeof loadTokenizer>[0]) };
    }
    return { model, tokenizer: await llama2cTokenizer(model, loc.openSibling) };
  } catch (e) {
    await model.close();
    throw e;
  }
}
