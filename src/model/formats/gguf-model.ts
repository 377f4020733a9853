/**
 * A GGUF file as a ModelFile: canonical names are GGUF's own; dims are reversed from GGUF's
 * innermost-first order to our outermost-first shapes; q/k rows are left as stored (permuted for
 * `llama`, see gguf-config.ts) and `config.ropeStyle` says how to rotate them.
 */
import type { ByteSource } from '../../core/platform.js';
import { configFromGguf } from './gguf-config.js';
import { parseGguf } from './gguf.js';
import { checkModelTensors } from './tensor-names.js';
import type { ModelFile, TensorInfo } from './types.js';

/** Parses `source` as GGUF and checks it is a complete model we can run. Does not close `source`. */
export async function openGgufModel(source: ByteSource): Promise<ModelFile> {
  const g = await parseGguf(source);
  const tensors = new Map<string, TensorInfo>();
  for (const t of g.tensors) {
    tensors.set(t.name, {
      name: t.name,
      shape: [...t.dims].reverse(),
      dtype: t.dtype,
      byteOffset: t.byteOffset,
      byteLength: t.byteLength,
      source,
    });
  }
  const config = await configFromGguf(g, tensors);
  checkModelTensors(source.name, config, tensors);
  return {
    format: 'gguf',
    name: source.name,
    config,
    tensors,
    ggufMetadata: g.metadata,
    close: () => source.close(),
  };
}
