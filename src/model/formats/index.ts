/**
 * Model file readers: GGUF, Hugging Face safetensors folders and llama2.c checkpoints, all read
 * into one ModelFile (canonical GGUF tensor names, outermost-first shapes, ModelConfig with the
 * RoPE style the file's q/k layout needs; see types.ts). Platform-free: bytes come from a
 * ByteSource or an injected OpenFile (src/platform/node/file-source.ts provides both in Node).
 */
import { WgllmError } from '../../core/errors.js';
import type { ByteSource } from '../../core/platform.js';
import { openGgufModel } from './gguf-model.js';
import { openHfModel } from './hf-model.js';
import { openLlama2cModel } from './llama2c.js';
import type { ModelFile, OpenFile } from './types.js';

export type { ModelFile, ModelFormat, OpenFile, TensorInfo } from './types.js';
export type { GgufFile, GgufTensorInfo, GgufValue } from './gguf.js';
export type { SafetensorsFile } from './safetensors.js';
export { parseGguf, ggmlTypeName } from './gguf.js';
export { configFromGguf, llama3FreqFactors } from './gguf-config.js';
export { openGgufModel } from './gguf-model.js';
export { parseSafetensors, openSafetensorsSet, INDEX_FILE, SINGLE_FILE } from './safetensors.js';
export { configFromHf } from './hf-config.js';
export { openHfModel, canonicalHfName } from './hf-model.js';
export { openLlama2cModel, configFromLlama2cHeader } from './llama2c.js';
export { expectedTensors, checkModelTensors, blockTensor, TOKEN_EMBD, OUTPUT, OUTPUT_NORM, ROPE_FREQS } from './tensor-names.js';
export { readTensorBytes, readTensorF32, numElements } from './tensor-data.js';

export type ModelInput =
  | { kind: 'gguf'; source: ByteSource }
  | { kind: 'llama2c'; source: ByteSource }
  /** an HF folder: config.json + model.safetensors or model.safetensors.index.json + shards */
  | { kind: 'hf'; openFile: OpenFile; name?: string };

/** Opens a model of a known kind. The returned ModelFile's close() closes its sources. */
export function openModel(input: ModelInput): Promise<ModelFile> {
  switch (input.kind) {
    case 'gguf':
      return openGgufModel(input.source);
    case 'llama2c':
      return openLlama2cModel(input.source);
    case 'hf':
      return openHfModel(input.openFile, input.name);
  }
}

/** Which single-file format `source` holds, by its first bytes: 'gguf', 'safetensors' or 'llama2c' (the fallback; it has no magic). */
export async function detectFormat(source: ByteSource): Promise<'gguf' | 'safetensors' | 'llama2c'> {
  if (source.size < 9) throw new WgllmError('model_format', `${source.name}: ${source.size} bytes is too small for a model file`);
  const b = await source.read(0, 9);
  if (b[0] === 0x47 && b[1] === 0x47 && b[2] === 0x55 && b[3] === 0x46) return 'gguf';
  // safetensors: a u64 header length, then the JSON header's '{'
  const v = new DataView(b.buffer, b.byteOffset, 9);
  if (v.getBigUint64(0, true) < BigInt(source.size) && b[8] === 0x7b) return 'safetensors';
  return 'llama2c';
}

/** Opens a single model file (GGUF or llama2.c .bin), detecting which it is. */
export async function openModelFile(source: ByteSource): Promise<ModelFile> {
  const kind = await detectFormat(source);
  if (kind === 'safetensors') {
    throw new WgllmError('invalid_argument', `${source.name}: a safetensors file needs its folder (config.json); open it with { kind: 'hf', openFile }`);
  }
  return openModel({ kind, source });
}
