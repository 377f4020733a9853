/**
 * The canonical tensor set of a model (GGUF names, outermost-first shapes) and the check that a
 * file provides exactly that: every tensor present with its shape, nothing we would silently
 * ignore. Readers map their own names to these before calling `checkModelTensors`.
 */
import { isQuantized } from '../../core/dtype.js';
import { WgllmError } from '../../core/errors.js';
import type { ModelConfig } from '../../core/model-config.js';
import { formatError } from './byte-reader.js';
import type { TensorInfo } from './types.js';

export const TOKEN_EMBD = 'token_embd.weight';
export const OUTPUT_NORM = 'output_norm.weight';
export const OUTPUT = 'output.weight';
/** llama.cpp's per-pair RoPE frequency divisors (llama3 scaling), shape [rotaryDim / 2] */
export const ROPE_FREQS = 'rope_freqs.weight';

/** `blk.{layer}.{suffix}`, e.g. blockTensor(3, 'attn_q.weight') */
export function blockTensor(layer: number, suffix: string): string {
  return `blk.${layer}.${suffix}`;
}

/** Every tensor the model needs, canonical name -> shape [outermost, ..., innermost]. */
export function expectedTensors(config: ModelConfig): Map<string, number[]> {
  const { hiddenSize: h, intermediateSize: ff, numHeads, numKvHeads, headDim, vocabSize } = config;
  const qDim = numHeads * headDim;
  const kvDim = numKvHeads * headDim;
  const m = new Map<string, number[]>();
  m.set(TOKEN_EMBD, [vocabSize, h]);
  for (let i = 0; i < config.numLayers; i++) {
    const b = (s: string, shape: number[]): void => void m.set(blockTensor(i, s), shape);
    b('attn_norm.weight', [h]);
    b('attn_q.weight', [qDim, h]);
    b('attn_k.weight', [kvDim, h]);
    b('attn_v.weight', [kvDim, h]);
    b('attn_output.weight', [h, qDim]);
    if (config.attentionBias) {
      b('attn_q.bias', [qDim]);
      b('attn_k.bias', [kvDim]);
      b('attn_v.bias', [kvDim]);
    }
    if (config.qkNorm) {
      b('attn_q_norm.weight', [headDim]);
      b('attn_k_norm.weight', [headDim]);
    }
    b('ffn_norm.weight', [h]);
    b('ffn_gate.weight', [ff, h]);
    b('ffn_up.weight', [ff, h]);
    b('ffn_down.weight', [h, ff]);
  }
  m.set(OUTPUT_NORM, [h]);
  if (!config.tieWordEmbeddings) m.set(OUTPUT, [vocabSize, h]);
  return m;
}

const sameShape = (a: number[], b: number[]): boolean => a.length === b.length && a.every((v, i) => v === b[i]);

/**
 * Throws model_format for a missing tensor or a wrong shape, model_unsupported for a tensor that
 * this engine would not use (so nothing is silently dropped) or a quantized vector.
 */
export function checkModelTensors(fileName: string, config: ModelConfig, tensors: Map<string, TensorInfo>): void {
  const expected = expectedTensors(config);
  for (const [name, shape] of expected) {
    const t = tensors.get(name);
    if (!t) throw formatError(fileName, `missing tensor '${name}' (expected shape [${shape}])`);
    if (!sameShape(t.shape, shape)) {
      throw formatError(fileName, `tensor '${name}' has shape [${t.shape}], but the config implies [${shape}]`);
    }
    if (shape.length === 1 && isQuantized(t.dtype)) {
      throw new WgllmError('model_unsupported', `${fileName}: tensor '${name}' is a ${t.dtype} vector; norms and biases must be f32/f16/bf16`);
    }
  }
  for (const [name, t] of tensors) {
    if (expected.has(name)) continue;
    if (name === ROPE_FREQS && sameShape(t.shape, [config.rotaryDim / 2]) && !isQuantized(t.dtype)) continue;
    throw new WgllmError(
      'model_unsupported',
      `${fileName}: tensor '${name}' [${t.shape}] is not part of a ${config.architecture} model as this engine implements it`,
    );
  }
}
