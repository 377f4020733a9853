import { isQuantized } from '../core/dtype.js';
import { WgllmError } from '../core/errors.js';
import type { ModelConfig } from '../core/model-config.js';
import type { GpuContext } from '../gpu/context.js';
import type { MatmulWeightFormat } from '../kernels/matmul-formats.js';
import type { EmbeddingTableDType } from '../kernels/embedding.js';
import { blockTensor, OUTPUT, OUTPUT_NORM, TOKEN_EMBD } from './formats/tensor-names.js';
import type { ModelFile, TensorInfo } from './formats/types.js';
import { WeightUploader, type GpuWeight, type UploadProgress } from './weight-upload.js';

/**
 * A model's weights on the GPU, grouped the way the forward pass uses them. Projections that
 * read the same input are fused into one matmul when their storage formats agree (q|k|v and
 * gate|up); files that mix formats (Q4_K_M keeps some v/down tensors in Q6_K) get separate ones.
 */
export interface Linear {
  weight: GpuWeight; // [N, K] in `format`
  format: MatmulWeightFormat;
  /** [N] f32 */
  bias?: GpuWeight;
  N: number;
  K: number;
}

export interface LayerWeights {
  attnNorm: GpuWeight; // [hiddenSize] f32
  /** fused [qDim + 2 kvDim, hiddenSize], or separate q, k, v */
  qkv: { fused: Linear } | { q: Linear; k: Linear; v: Linear };
  qNorm?: GpuWeight; // [headDim] f32
  kNorm?: GpuWeight; // [headDim] f32
  o: Linear; // [hiddenSize, qDim]
  ffnNorm: GpuWeight; // [hiddenSize] f32
  /** fused [2 * intermediateSize, hiddenSize], or separate gate, up */
  gateUp: { fused: Linear } | { gate: Linear; up: Linear };
  down: Linear; // [hiddenSize, intermediateSize]
}

export interface ModelWeights {
  embedding: { weight: GpuWeight; table: EmbeddingTableDType }; // [vocabSize, hiddenSize]
  layers: LayerWeights[];
  outputNorm: GpuWeight; // [hiddenSize] f32
  /** lm_head [vocabSize, hiddenSize]; the embedding's buffer when tied */
  output: Linear;
  /** every buffer made, for dispose() */
  buffers: GPUBuffer[];
}

function tensor(model: ModelFile, name: string): TensorInfo {
  const t = model.tensors.get(name);
  if (!t) throw new WgllmError('model_format', `${model.name}: tensor '${name}' is missing`);
  return t;
}

function sameFormat(ts: TensorInfo[]): boolean {
  return ts.every((t) => t.dtype === ts[0]!.dtype);
}

/** Bytes the upload will read from the file (for progress). */
export function weightBytes(model: ModelFile): number {
  let n = 0;
  for (const t of model.tensors.values()) n += t.byteLength;
  return n;
}

export async function uploadModelWeights(ctx: GpuContext, model: ModelFile, onProgress?: UploadProgress): Promise<ModelWeights> {
  const cfg: ModelConfig = model.config;
  const up = new WeightUploader(ctx, weightBytes(model), onProgress);
  try {
    const vector = (name: string) => up.upload(name, [tensor(model, name)], 'f32');
    const linear = async (label: string, names: string[], biasNames?: string[]): Promise<Linear> => {
      const ts = names.map((n) => tensor(model, n));
      const weight = await up.upload(label, ts);
      const format = weight.dtype as MatmulWeightFormat;
      const bias = biasNames ? await up.upload(`${label}.bias`, biasNames.map((n) => tensor(model, n)), 'f32') : undefined;
      return { weight, format, ...(bias ? { bias } : {}), N: weight.shape[0]!, K: weight.shape[1]! };
    };
    const embedT = tensor(model, TOKEN_EMBD);
    const embedding = await up.upload(TOKEN_EMBD, [embedT]);
    // One layout for every layer (the runner binds one set of activation buffers): fused only
    // if every layer's q|k|v (gate|up) share a format. Formats may still differ between layers.
    const every = (names: string[]) =>
      Array.from({ length: cfg.numLayers }, (_, i) => sameFormat(names.map((n) => tensor(model, blockTensor(i, `${n}.weight`))))).every(Boolean);
    const fuseQkv = every(['attn_q', 'attn_k', 'attn_v']);
    const fuseGateUp = every(['ffn_gate', 'ffn_up']);
    const layers: LayerWeights[] = [];
    for (let i = 0; i < cfg.numLayers; i++) {
      const b = (s: string) => blockTensor(i, s);
      const qkvNames = ['attn_q', 'attn_k', 'attn_v'];
      const bias = (n: string) => (cfg.attentionBias ? [b(`${n}.bias`)] : undefined);
      const qkv = fuseQkv
        ? { fused: await linear(`blk.${i}.attn_qkv`, qkvNames.map((n) => b(`${n}.weight`)), cfg.attentionBias ? qkvNames.map((n) => b(`${n}.bias`)) : undefined) }
        : {
            q: await linear(b('attn_q'), [b('attn_q.weight')], bias('attn_q')),
            k: await linear(b('attn_k'), [b('attn_k.weight')], bias('attn_k')),
            v: await linear(b('attn_v'), [b('attn_v.weight')], bias('attn_v')),
          };
      const gateUp = fuseGateUp
        ? { fused: await linear(`blk.${i}.ffn_gate_up`, [b('ffn_gate.weight'), b('ffn_up.weight')]) }
        : { gate: await linear(b('ffn_gate'), [b('ffn_gate.weight')]), up: await linear(b('ffn_up'), [b('ffn_up.weight')]) };
      layers.push({
        attnNorm: await vector(b('attn_norm.weight')),
        qkv,
        ...(cfg.qkNorm ? { qNorm: await vector(b('attn_q_norm.weight')), kNorm: await vector(b('attn_k_norm.weight')) } : {}),
        o: await linear(b('attn_output'), [b('attn_output.weight')]),
        ffnNorm: await vector(b('ffn_norm.weight')),
        gateUp,
        down: await linear(b('ffn_down'), [b('ffn_down.weight')]),
      });
    }
    const outputNorm = await vector(OUTPUT_NORM);
    const output: Linear = model.tensors.has(OUTPUT)
      ? await linear(OUTPUT, [OUTPUT])
      : { weight: embedding, format: embedding.dtype as MatmulWeightFormat, N: embedding.shape[0]!, K: embedding.shape[1]! };
    const table = embedding.dtype as EmbeddingTableDType;
    if (!isQuantized(embedT.dtype) && table !== 'f32' && table !== 'f16') {
      throw new WgllmError('model_unsupported', `${model.name}: token_embd in ${embedT.dtype} is not supported`);
    }
    return { embedding: { weight: embedding, table }, layers, outputNorm, output, buffers: up.buffers };
  } catch (e) {
    up.destroyAll();
    throw e;
  }
}
