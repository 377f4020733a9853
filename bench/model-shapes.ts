/**
 * Real model shapes (from each model's public config.json) and how llama.cpp lays them out as
 * GGUF: architecture name, `{arch}.*` metadata keys, tensor names and per-tensor types of a
 * file type. Used to write benchmark models with random weights (bench/gen-model.ts).
 */
import type { RopeScaling } from '../src/core/model-config.js';
import { llama3FreqFactors } from '../src/model/formats/gguf-config.js';
import { meta, type GgmlTypeName, type GgufMetaValue, type GgufTensorSpec } from './gguf-writer.js';

export interface ModelShape {
  /** GGUF general.architecture */
  arch: 'llama' | 'qwen2';
  name: string;
  hidden: number;
  ffn: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  vocab: number;
  ropeTheta: number;
  rmsEps: number;
  contextLength: number;
  tiedEmbeddings: boolean;
  qkvBias: boolean;
  ropeScaling?: Extract<RopeScaling, { type: 'llama3' }>;
}

export const MODEL_SHAPES = {
  'llama-3.1-8b': {
    arch: 'llama', name: 'Llama-3.1-8B', hidden: 4096, ffn: 14336, layers: 32, heads: 32, kvHeads: 8, headDim: 128,
    vocab: 128256, ropeTheta: 500000, rmsEps: 1e-5, contextLength: 131072, tiedEmbeddings: false, qkvBias: false,
    ropeScaling: { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 },
  },
  'qwen2.5-0.5b': {
    arch: 'qwen2', name: 'Qwen2.5-0.5B', hidden: 896, ffn: 4864, layers: 24, heads: 14, kvHeads: 2, headDim: 64,
    vocab: 151936, ropeTheta: 1000000, rmsEps: 1e-6, contextLength: 32768, tiedEmbeddings: true, qkvBias: true,
  },
  'qwen2.5-1.5b': {
    arch: 'qwen2', name: 'Qwen2.5-1.5B', hidden: 1536, ffn: 8960, layers: 28, heads: 12, kvHeads: 2, headDim: 128,
    vocab: 151936, ropeTheta: 1000000, rmsEps: 1e-6, contextLength: 32768, tiedEmbeddings: true, qkvBias: true,
  },
  'qwen2.5-7b': {
    arch: 'qwen2', name: 'Qwen2.5-7B', hidden: 3584, ffn: 18944, layers: 28, heads: 28, kvHeads: 4, headDim: 128,
    vocab: 152064, ropeTheta: 1000000, rmsEps: 1e-6, contextLength: 32768, tiedEmbeddings: false, qkvBias: true,
  },
  'smollm2-135m': {
    arch: 'llama', name: 'SmolLM2-135M', hidden: 576, ffn: 1536, layers: 30, heads: 9, kvHeads: 3, headDim: 64,
    vocab: 49152, ropeTheta: 100000, rmsEps: 1e-5, contextLength: 8192, tiedEmbeddings: true, qkvBias: false,
  },
  'smollm2-1.7b': {
    arch: 'llama', name: 'SmolLM2-1.7B', hidden: 2048, ffn: 8192, layers: 24, heads: 32, kvHeads: 32, headDim: 64,
    vocab: 49152, ropeTheta: 130000, rmsEps: 1e-5, contextLength: 8192, tiedEmbeddings: true, qkvBias: false,
  },
} satisfies Record<string, ModelShape>;

export type ModelId = keyof typeof MODEL_SHAPES;
export type FileFormat = 'Q4_0' | 'Q8_0' | 'F16';
/** llama.cpp's general.file_type (LLAMA_FTYPE_MOSTLY_*) */
const FILE_TYPE: Record<FileFormat, number> = { F16: 1, Q4_0: 2, Q8_0: 7 };

/**
 * Type of a 2-D weight. Like llama.cpp's quantize: the classifier (output.weight, or token_embd
 * when tied, since it is then the classifier too) gets Q6_K in a Q4_0 file, falling back to Q8_0
 * where the row length is not a multiple of 256 (SmolLM2-135M, Qwen2.5-0.5B).
 */
function weightType(format: FileFormat, shape: ModelShape, classifier: boolean): GgmlTypeName {
  if (format === 'Q4_0' && classifier) return shape.hidden % 256 === 0 ? 'Q6_K' : 'Q8_0';
  return format;
}

/** The `{arch}.*` and general.* metadata llama.cpp's converter writes (tokenizer keys are added separately). */
export function modelMetadata(s: ModelShape, format: FileFormat): Map<string, GgufMetaValue> {
  const a = s.arch;
  const m = new Map<string, GgufMetaValue>([
    ['general.architecture', meta.str(a)],
    ['general.type', meta.str('model')],
    ['general.name', meta.str(`${s.name} (random weights)`)],
    [`${a}.block_count`, meta.u32(s.layers)],
    [`${a}.context_length`, meta.u32(s.contextLength)],
    [`${a}.embedding_length`, meta.u32(s.hidden)],
    [`${a}.feed_forward_length`, meta.u32(s.ffn)],
    [`${a}.attention.head_count`, meta.u32(s.heads)],
    [`${a}.attention.head_count_kv`, meta.u32(s.kvHeads)],
    [`${a}.rope.freq_base`, meta.f32(s.ropeTheta)],
    [`${a}.attention.layer_norm_rms_epsilon`, meta.f32(s.rmsEps)],
    [`${a}.attention.key_length`, meta.u32(s.headDim)],
    [`${a}.attention.value_length`, meta.u32(s.headDim)],
    [`${a}.vocab_size`, meta.u32(s.vocab)],
    [`${a}.rope.dimension_count`, meta.u32(s.headDim)],
    ['general.file_type', meta.u32(FILE_TYPE[format])],
    ['general.quantization_version', meta.u32(2)],
  ]);
  return m;
}

/** Every tensor of the model, in llama.cpp's order (embedding, output, rope_freqs, then blocks). */
export function modelTensors(s: ModelShape, format: FileFormat): GgufTensorSpec[] {
  const { hidden: h, ffn, headDim } = s;
  const q = s.heads * headDim;
  const kv = s.kvHeads * headDim;
  const out: GgufTensorSpec[] = [];
  const w = (name: string, shape: number[], classifier = false): void =>
    void out.push({ name, shape, type: weightType(format, s, classifier), fill: 'random' });
  const f32 = (name: string, shape: number[], fill: GgufTensorSpec['fill']): void => void out.push({ name, shape, type: 'F32', fill });
  w('token_embd.weight', [s.vocab, h], s.tiedEmbeddings);
  if (!s.tiedEmbeddings) w('output.weight', [s.vocab, h], true);
  f32('output_norm.weight', [h], 'ones');
  // Llama 3 RoPE scaling is a tensor of per-pair frequency divisors, as the HF->GGUF converter writes it
  if (s.ropeScaling) f32('rope_freqs.weight', [headDim / 2], Float32Array.from(llama3FreqFactors(s.ropeTheta, headDim, s.ropeScaling)));
  for (let i = 0; i < s.layers; i++) {
    const b = `blk.${i}.`;
    f32(`${b}attn_norm.weight`, [h], 'ones');
    w(`${b}attn_q.weight`, [q, h]);
    w(`${b}attn_k.weight`, [kv, h]);
    w(`${b}attn_v.weight`, [kv, h]);
    if (s.qkvBias) {
      f32(`${b}attn_q.bias`, [q], 'random');
      f32(`${b}attn_k.bias`, [kv], 'random');
      f32(`${b}attn_v.bias`, [kv], 'random');
    }
    w(`${b}attn_output.weight`, [h, q]);
    f32(`${b}ffn_norm.weight`, [h], 'ones');
    w(`${b}ffn_gate.weight`, [ffn, h]);
    w(`${b}ffn_up.weight`, [ffn, h]);
    w(`${b}ffn_down.weight`, [h, ffn]);
  }
  return out;
}
