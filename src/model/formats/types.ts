/**
 * The one view of a model file that the rest of the engine sees, whatever the format.
 *
 * Tensor naming: GGUF's (llama.cpp) names are the canonical ones for every format:
 *   token_embd.weight, output_norm.weight, output.weight, rope_freqs.weight,
 *   blk.{i}.attn_norm.weight, blk.{i}.attn_{q,k,v}.weight, blk.{i}.attn_{q,k,v}.bias,
 *   blk.{i}.attn_output.weight, blk.{i}.attn_q_norm.weight, blk.{i}.attn_k_norm.weight,
 *   blk.{i}.ffn_norm.weight, blk.{i}.ffn_{gate,up,down}.weight.
 *
 * Shapes are row-major, outermost first: a linear layer y = W x with W of N outputs and K inputs
 * has shape [N, K] (HF/PyTorch order). GGUF lists dims innermost first (ne[0] = K); its readers
 * reverse them. For block-quantized dtypes the blocks run along the last (innermost) dim.
 *
 * RoPE layout: weights are never permuted on load. Instead `config.ropeStyle` says which pairs the
 * q/k rows of THIS file expect to be rotated together:
 *   - 'neox'  (rotate_half: i with i + rotaryDim/2): HF llama/qwen2/qwen3, GGUF qwen2/qwen3;
 *   - 'normal' (adjacent pairs 2i, 2i+1): GGUF llama (llama.cpp's converter permutes the q/k rows
 *     of each head so that interleaved RoPE on them equals rotate_half on the HF rows) and
 *     llama2.c .bin files (trained with interleaved RoPE).
 * So the same model read from HF and from GGUF-llama has different q/k row orders and different
 * ropeStyle, and both give the same attention scores.
 */
import type { DType } from '../../core/dtype.js';
import type { ModelConfig } from '../../core/model-config.js';
import type { ByteSource } from '../../core/platform.js';
import type { GgufValue } from './gguf.js';

export type ModelFormat = 'gguf' | 'safetensors' | 'llama2c';

export interface TensorInfo {
  /** canonical (GGUF-style) name */
  name: string;
  /** row-major, outermost first ([N, K] for a weight W[N, K]) */
  shape: number[];
  dtype: DType;
  /** absolute byte offset of the tensor's data within `source` */
  byteOffset: number;
  byteLength: number;
  source: ByteSource;
}

export interface ModelFile {
  format: ModelFormat;
  /** the file or folder it was read from, for messages */
  name: string;
  config: ModelConfig;
  /** canonical name -> tensor */
  tensors: Map<string, TensorInfo>;
  /** GGUF only: every metadata key (tokenizer.ggml.*, chat template, ...) */
  ggufMetadata?: Map<string, GgufValue>;
  /** HF only: config.json as parsed */
  hfConfig?: Record<string, unknown>;
  /** closes every ByteSource the model was opened from */
  close(): Promise<void>;
}

/** Opens a file of a model folder (HF layout); see core/platform.ts. */
export type { OpenFile } from '../../core/platform.js';
