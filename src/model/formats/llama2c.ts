/**
 * llama2.c legacy (version 0) checkpoints: 7 int32 (dim, hidden_dim, n_layers, n_heads,
 * n_kv_heads, vocab_size, seq_len; vocab_size < 0 means an unshared classifier), then f32 arrays
 * in run.c's order, each holding all layers back to back:
 *   token_embedding [vocab, dim], rms_att [L, dim], wq [L, dim(out), dim], wk [L, kvDim, dim],
 *   wv [L, kvDim, dim], wo [L, dim, dim], rms_ffn [L, dim], w1 [L, hidden, dim],
 *   w2 [L, dim, hidden], w3 [L, hidden, dim], rms_final [dim],
 *   freq_cis_real + freq_cis_imag [seq_len, headSize / 2] each (unused: we compute RoPE),
 *   wcls [vocab, dim] (only when unshared).
 * llama2.c rotates adjacent pairs (2i, 2i+1), hence ropeStyle 'normal'; theta is 10000, eps 1e-5,
 * BOS 1 and EOS 2 as run.c hard-codes them.
 */
import { WgllmError } from '../../core/errors.js';
import type { ModelConfig } from '../../core/model-config.js';
import type { ByteSource } from '../../core/platform.js';
import { formatError, readExact } from './byte-reader.js';
import { validateConfig } from './config-check.js';
import { blockTensor, checkModelTensors, OUTPUT, OUTPUT_NORM, TOKEN_EMBD } from './tensor-names.js';
import type { ModelFile, TensorInfo } from './types.js';

const HEADER_BYTES = 28;
const VERSIONED_MAGIC = 0x616b3432; // "ak42": llama2.c export versions 1 and 2

export function configFromLlama2cHeader(name: string, header: Int32Array): ModelConfig {
  const [dim, hidden, nLayers, nHeads, nKvHeads, vocab, seqLen] = Array.from(header) as [number, number, number, number, number, number, number];
  const fields = { dim, hidden_dim: hidden, n_layers: nLayers, n_heads: nHeads, n_kv_heads: nKvHeads, seq_len: seqLen };
  for (const [k, v] of Object.entries(fields)) {
    if (v <= 0 || v > 1 << 20) throw formatError(name, `llama2.c header ${k} = ${v} is impossible (not a llama2.c checkpoint?)`);
  }
  if (vocab === 0 || Math.abs(vocab) > 1 << 24) throw formatError(name, `llama2.c header vocab_size = ${vocab} is impossible`);
  if (dim % nHeads !== 0) throw formatError(name, `dim ${dim} is not a multiple of n_heads ${nHeads}`);
  return validateConfig(name, {
    architecture: 'llama',
    hiddenSize: dim,
    intermediateSize: hidden,
    numLayers: nLayers,
    numHeads: nHeads,
    numKvHeads: nKvHeads,
    headDim: dim / nHeads,
    vocabSize: Math.abs(vocab),
    maxPositionEmbeddings: seqLen,
    rmsNormEps: 1e-5,
    ropeTheta: 10000,
    ropeStyle: 'normal',
    ropeScaling: { type: 'none' },
    rotaryDim: dim / nHeads,
    tieWordEmbeddings: vocab > 0,
    attentionBias: false,
    qkNorm: false,
    bosTokenId: 1,
    eosTokenIds: [2],
  });
}

/** Reads a llama2.c legacy .bin from `source` (not closed here). */
export async function openLlama2cModel(source: ByteSource): Promise<ModelFile> {
  const head = await readExact(source, 0, HEADER_BYTES, 'llama2.c header');
  const view = new DataView(head.buffer, head.byteOffset, HEADER_BYTES);
  const header = Int32Array.from({ length: 7 }, (_, i) => view.getInt32(4 * i, true)); // [7] i32
  if (view.getUint32(0, true) === VERSIONED_MAGIC) {
    throw new WgllmError('model_unsupported', `${source.name}: llama2.c export version 1/2 ("ak42" header) is not supported; export with --version 0`);
  }
  const config = configFromLlama2cHeader(source.name, header);
  const { hiddenSize: dim, intermediateSize: hidden, numLayers: L, numKvHeads, headDim, vocabSize } = config;
  const kvDim = numKvHeads * headDim;
  const tensors = new Map<string, TensorInfo>();
  let offset = HEADER_BYTES;
  /** Lays out one run.c array: a tensor of `shape` per name, back to back. */
  const array = (shape: number[], names: string[]): void => {
    const bytes = shape.reduce((a, b) => a * b, 4);
    for (const name of names) {
      tensors.set(name, { name, shape, dtype: 'f32', byteOffset: offset, byteLength: bytes, source });
      offset += bytes;
    }
  };
  const layers = (suffix: string): string[] => Array.from({ length: L }, (_, i) => blockTensor(i, suffix));
  array([vocabSize, dim], [TOKEN_EMBD]);
  array([dim], layers('attn_norm.weight'));
  array([dim, dim], layers('attn_q.weight'));
  array([kvDim, dim], layers('attn_k.weight'));
  array([kvDim, dim], layers('attn_v.weight'));
  array([dim, dim], layers('attn_output.weight'));
  array([dim], layers('ffn_norm.weight'));
  array([hidden, dim], layers('ffn_gate.weight'));
  array([dim, hidden], layers('ffn_down.weight'));
  array([hidden, dim], layers('ffn_up.weight'));
  array([dim], [OUTPUT_NORM]);
  offset += 2 * config.maxPositionEmbeddings * (headDim / 2) * 4; // freq_cis_real, freq_cis_imag
  if (!config.tieWordEmbeddings) array([vocabSize, dim], [OUTPUT]);
  if (offset !== source.size) {
    throw formatError(
      source,
      offset > source.size
        ? `truncated: the header implies ${offset} bytes of weights but the file has ${source.size}`
        : `${source.size - offset} bytes after the last weight; the header does not describe this file`,
    );
  }
  checkModelTensors(source.name, config, tensors);
  return { format: 'llama2c', name: source.name, config, tensors, close: () => source.close() };
}
