/**
 * ModelConfig from GGUF metadata (`general.architecture`, `{arch}.*`, `tokenizer.ggml.*`).
 *
 * RoPE style: llama.cpp's converter permutes the q/k rows of `llama` models so that llama.cpp's
 * plain (adjacent pair) RoPE reproduces HF's rotate_half, hence 'normal'; qwen2/qwen3 are not
 * permuted and use NeoX RoPE, hence 'neox'.
 *
 * Llama 3 RoPE scaling: the converter writes no `rope.scaling.*` keys but a `rope_freqs.weight`
 * tensor of per-pair frequency divisors. We recover the llama3 parameters from it (trying the
 * usual low/high/original-context values and requiring an exact match), so that the engine sees
 * the same `ropeScaling` as from the HF config; divisors that match no such setting are refused.
 */
import { WgllmError } from '../../core/errors.js';
import type { Architecture, ModelConfig, RopeScaling, RopeStyle } from '../../core/model-config.js';
import { formatError } from './byte-reader.js';
import { cleanF32, validateConfig } from './config-check.js';
import type { GgufFile, GgufValue } from './gguf.js';
import { blockTensor, OUTPUT, ROPE_FREQS, TOKEN_EMBD } from './tensor-names.js';
import type { TensorInfo } from './types.js';
import { readTensorF32 } from './tensor-data.js';

const ROPE_STYLE: Record<Architecture, RopeStyle> = { llama: 'normal', qwen2: 'neox', qwen3: 'neox' };
const NO_TOKEN = 0xffffffff; // llama.cpp writes -1 ("none") as u32

function isArchitecture(a: string): a is Architecture {
  return a === 'llama' || a === 'qwen2' || a === 'qwen3';
}

class Meta {
  constructor(
    readonly g: GgufFile,
    readonly prefix: string,
  ) {}
  raw(key: string): GgufValue | undefined {
    return this.g.metadata.get(key.startsWith('.') ? this.prefix + key : key);
  }
  num(key: string): number | undefined;
  num(key: string, fallback: number): number;
  num(key: string, fallback?: number): number | undefined {
    const full = key.startsWith('.') ? this.prefix + key : key;
    let v = this.g.metadata.get(full);
    // Some models store per-layer counts as arrays; we only run models where they are uniform.
    if (Array.isArray(v)) {
      const first = v[0];
      if (first === undefined || v.some((x) => x !== first)) {
        throw new WgllmError('model_unsupported', `${this.g.source.name}: '${full}' differs between layers (${String(v.slice(0, 8))}…)`);
      }
      v = first;
    }
    if (v === undefined) return fallback;
    if (typeof v !== 'number') throw formatError(this.g.source, `metadata '${full}' is ${typeof v}, expected a number`);
    return cleanF32(v);
  }
  need(key: string): number {
    const v = this.num(key);
    if (v === undefined) throw formatError(this.g.source, `metadata '${this.prefix}${key}' is missing`);
    return v;
  }
  str(key: string): string | undefined {
    const v = this.raw(key);
    const full = key.startsWith('.') ? this.prefix + key : key;
    if (v !== undefined && typeof v !== 'string') throw formatError(this.g.source, `metadata '${full}' is not a string`);
    return v;
  }
}

/** llama3 per-pair divisors exactly as the HF->GGUF converter computes them */
export function llama3FreqFactors(theta: number, rotaryDim: number, s: Extract<RopeScaling, { type: 'llama3' }>): number[] {
  const out: number[] = [];
  const lowWavelen = s.originalMaxPositionEmbeddings / s.lowFreqFactor;
  const highWavelen = s.originalMaxPositionEmbeddings / s.highFreqFactor;
  for (let i = 0; i < rotaryDim; i += 2) {
    const freq = Math.fround(1 / Math.fround(theta ** (i / rotaryDim)));
    const wavelen = (2 * Math.PI) / freq;
    if (wavelen < highWavelen) out.push(1);
    else if (wavelen > lowWavelen) out.push(s.factor);
    else {
      const smooth = (s.originalMaxPositionEmbeddings / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
      out.push(1 / ((1 - smooth) / s.factor + smooth));
    }
  }
  return out;
}

async function ropeScalingFromFreqs(g: GgufFile, t: TensorInfo, theta: number, rotaryDim: number): Promise<RopeScaling> {
  const f = await readTensorF32(t); // [rotaryDim / 2]
  const factor = Math.max(...f);
  if (f.every((x) => x === 1)) return { type: 'none' };
  const close = (a: number[]): boolean => a.every((x, i) => Math.abs(x - f[i]!) <= 1e-4 * Math.max(1, Math.abs(x)));
  for (const originalMaxPositionEmbeddings of [8192, 4096, 2048, 16384, 32768, 65536, 131072]) {
    for (const [lowFreqFactor, highFreqFactor] of [[1, 4], [1, 2], [1, 8], [2, 4]] as const) {
      const s = { type: 'llama3', factor: cleanF32(factor), lowFreqFactor, highFreqFactor, originalMaxPositionEmbeddings } as const;
      if (close(llama3FreqFactors(theta, rotaryDim, s))) return s;
    }
  }
  throw new WgllmError(
    'model_unsupported',
    `${g.source.name}: '${ROPE_FREQS}' holds RoPE frequency divisors [${Array.from(f, (x) => x.toFixed(3))}] that match no llama3 scaling this engine knows`,
  );
}

function ropeScalingFromKeys(m: Meta): RopeScaling | undefined {
  const type = m.str('.rope.scaling.type');
  const factor = m.num('.rope.scaling.factor') ?? m.num('.rope.scale_linear');
  if (type === undefined || type === 'none') {
    return type === undefined && factor !== undefined && factor !== 1 ? { type: 'linear', factor } : undefined;
  }
  if (type === 'linear') return { type: 'linear', factor: factor ?? 1 };
  throw new WgllmError('model_unsupported', `${m.g.source.name}: RoPE scaling '${type}' is not supported (linear and llama3 are)`);
}

function tokenId(m: Meta, key: string): number | undefined {
  const v = m.num(key);
  return v === undefined || v === NO_TOKEN || v < 0 ? undefined : v;
}

/** Builds the config; `tensors` are the file's tensors under canonical names (for vocab, ties, biases). */
export async function configFromGguf(g: GgufFile, tensors: Map<string, TensorInfo>): Promise<ModelConfig> {
  const arch = g.metadata.get('general.architecture');
  if (typeof arch !== 'string') throw formatError(g.source, `metadata 'general.architecture' is missing`);
  if (!isArchitecture(arch)) {
    throw new WgllmError('model_unsupported', `${g.source.name}: architecture '${arch}' is not supported (llama, qwen2, qwen3 are)`);
  }
  const m = new Meta(g, arch);
  const hiddenSize = m.need('.embedding_length');
  const numHeads = m.need('.attention.head_count');
  const headDim = m.num('.attention.key_length') ?? hiddenSize / numHeads;
  const valueDim = m.num('.attention.value_length') ?? headDim;
  if (valueDim !== headDim) {
    throw new WgllmError('model_unsupported', `${g.source.name}: value head size ${valueDim} differs from key head size ${headDim}`);
  }
  const rotaryDim = m.num('.rope.dimension_count') ?? headDim;
  const ropeTheta = m.num('.rope.freq_base', 10000);
  const embd = tensors.get(TOKEN_EMBD);
  const vocabSize = embd?.shape[0] ?? m.num('.vocab_size') ?? (m.raw('tokenizer.ggml.tokens') as unknown[] | undefined)?.length ?? 0;
  const freqs = tensors.get(ROPE_FREQS);
  const ropeScaling = ropeScalingFromKeys(m) ?? (freqs ? await ropeScalingFromFreqs(g, freqs, ropeTheta, rotaryDim) : { type: 'none' });
  const eos = [tokenId(m, 'tokenizer.ggml.eos_token_id'), tokenId(m, 'tokenizer.ggml.eot_token_id'), tokenId(m, 'tokenizer.ggml.eom_token_id')];
  const bosTokenId = tokenId(m, 'tokenizer.ggml.bos_token_id');
  const config: ModelConfig = {
    architecture: arch,
    hiddenSize,
    intermediateSize: m.need('.feed_forward_length'),
    numLayers: m.need('.block_count'),
    numHeads,
    numKvHeads: m.num('.attention.head_count_kv') ?? numHeads,
    headDim,
    vocabSize,
    maxPositionEmbeddings: m.need('.context_length'),
    rmsNormEps: m.need('.attention.layer_norm_rms_epsilon'),
    ropeTheta,
    ropeStyle: ROPE_STYLE[arch],
    ropeScaling,
    rotaryDim,
    // llama.cpp ties the classifier to the embedding exactly when the file has no output.weight
    tieWordEmbeddings: !tensors.has(OUTPUT),
    attentionBias: tensors.has(blockTensor(0, 'attn_q.bias')),
    qkNorm: arch === 'qwen3',
    eosTokenIds: [...new Set(eos.filter((x): x is number => x !== undefined))],
  };
  if (bosTokenId !== undefined) config.bosTokenId = bosTokenId;
  return validateConfig(g.source.name, config);
}
