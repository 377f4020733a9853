/**
 * ModelConfig from a Hugging Face config.json (llama, qwen2, qwen3). Reads both the transformers
 * 4 keys (`rope_theta`, `rope_scaling`) and transformers 5's `rope_parameters`.
 *
 * RoPE style is always 'neox': HF q/k weights are laid out for rotate_half, whatever the
 * architecture (HF's llama conversion scripts permute Meta's interleaved weights on import).
 */
import { WgllmError } from '../../core/errors.js';
import type { Architecture, ModelConfig, RopeScaling } from '../../core/model-config.js';
import { formatError } from './byte-reader.js';
import { validateConfig } from './config-check.js';

const BY_CLASS: Record<string, Architecture> = {
  LlamaForCausalLM: 'llama',
  Qwen2ForCausalLM: 'qwen2',
  Qwen3ForCausalLM: 'qwen3',
};

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function architectureOf(name: string, c: Json): Architecture {
  const mt = c.model_type;
  if (mt === 'llama' || mt === 'qwen2' || mt === 'qwen3') return mt;
  const classes = Array.isArray(c.architectures) ? c.architectures : [];
  for (const cls of classes) if (typeof cls === 'string' && BY_CLASS[cls]) return BY_CLASS[cls];
  const what = typeof mt === 'string' ? `model_type '${mt}'` : `architectures ${JSON.stringify(classes)}`;
  throw new WgllmError('model_unsupported', `${name}: ${what} is not supported (llama, qwen2, qwen3 are)`);
}

function ropeScalingOf(name: string, c: Json): RopeScaling {
  // transformers 4: rope_scaling (null = none); transformers 5: rope_parameters (always present)
  const rs = isObject(c.rope_scaling) ? c.rope_scaling : isObject(c.rope_parameters) ? c.rope_parameters : undefined;
  if (!rs) return { type: 'none' };
  const type = rs.rope_type ?? rs.type ?? 'default';
  const num = (k: string, fallback?: number): number => {
    const v = rs[k] ?? fallback;
    if (typeof v !== 'number') throw formatError(name, `rope scaling '${k}' is missing or not a number`);
    return v;
  };
  if (type === 'default') return { type: 'none' };
  if (type === 'linear') return { type: 'linear', factor: num('factor') };
  if (type === 'llama3') {
    return {
      type: 'llama3',
      factor: num('factor'),
      lowFreqFactor: num('low_freq_factor', 1),
      highFreqFactor: num('high_freq_factor', 4),
      originalMaxPositionEmbeddings: num('original_max_position_embeddings', 8192),
    };
  }
  throw new WgllmError('model_unsupported', `${name}: RoPE scaling '${String(type)}' is not supported (linear and llama3 are)`);
}

function slidingWindowOf(name: string, c: Json, numLayers: number): number | undefined {
  if (c.use_sliding_window !== true) return undefined;
  const w = c.sliding_window;
  if (typeof w !== 'number') return undefined;
  // Qwen2 slides only in layers >= max_window_layers; one window for every layer is all we model.
  const layerTypes = Array.isArray(c.layer_types)
    ? c.layer_types
    : Array.from({ length: numLayers }, (_, i) => (i >= Number(c.max_window_layers ?? 0) ? 'sliding_attention' : 'full_attention'));
  const sliding = layerTypes.filter((t) => t === 'sliding_attention').length;
  if (sliding === 0) return undefined;
  if (sliding !== numLayers) {
    throw new WgllmError('model_unsupported', `${name}: sliding-window attention in ${sliding} of ${numLayers} layers is not supported`);
  }
  return w;
}

/** `name` is the config file's name, for messages. */
export function configFromHf(name: string, json: unknown): ModelConfig {
  if (!isObject(json)) throw formatError(name, 'is not a JSON object');
  const c = json;
  const architecture = architectureOf(name, c);
  const num = (k: string, fallback?: number): number => {
    const v = c[k] ?? fallback;
    if (typeof v !== 'number') throw formatError(name, `'${k}' is missing or not a number`);
    return v;
  };
  const act = c.hidden_act ?? c.hidden_activation ?? 'silu';
  if (act !== 'silu') throw new WgllmError('model_unsupported', `${name}: hidden_act '${String(act)}' is not supported (silu is)`);
  if (c.mlp_bias === true) throw new WgllmError('model_unsupported', `${name}: mlp_bias is not supported`);
  // Llama and Qwen3 put attention_bias on o_proj too, which ModelConfig does not model; Qwen2 has q/k/v biases only.
  if (architecture !== 'qwen2' && c.attention_bias === true) {
    throw new WgllmError('model_unsupported', `${name}: attention_bias (with an o_proj bias) is not supported for ${architecture}`);
  }
  const hiddenSize = num('hidden_size');
  const numHeads = num('num_attention_heads');
  const headDim = typeof c.head_dim === 'number' ? c.head_dim : hiddenSize / numHeads;
  const rotaryDim = headDim * (typeof c.partial_rotary_factor === 'number' ? c.partial_rotary_factor : 1);
  const rp = isObject(c.rope_parameters) ? c.rope_parameters : {};
  const ropeTheta = typeof c.rope_theta === 'number' ? c.rope_theta : typeof rp.rope_theta === 'number' ? rp.rope_theta : 10000;
  const numLayers = num('num_hidden_layers');
  const eos = c.eos_token_id;
  const eosTokenIds = typeof eos === 'number' ? [eos] : Array.isArray(eos) ? eos : [];
  if (!eosTokenIds.every((x): x is number => typeof x === 'number')) throw formatError(name, `eos_token_id ${JSON.stringify(eos)} is not a token id or list`);
  const config: ModelConfig = {
    architecture,
    hiddenSize,
    intermediateSize: num('intermediate_size'),
    numLayers,
    numHeads,
    numKvHeads: typeof c.num_key_value_heads === 'number' ? c.num_key_value_heads : numHeads,
    headDim,
    vocabSize: num('vocab_size'),
    maxPositionEmbeddings: num('max_position_embeddings'),
    rmsNormEps: num('rms_norm_eps'),
    ropeTheta,
    ropeStyle: 'neox',
    ropeScaling: ropeScalingOf(name, c),
    rotaryDim,
    // every supported class defaults to untied when the key is absent
    tieWordEmbeddings: c.tie_word_embeddings === true,
    attentionBias: architecture === 'qwen2',
    qkNorm: architecture === 'qwen3',
    eosTokenIds: [...new Set(eosTokenIds)],
  };
  const sw = slidingWindowOf(name, c, numLayers);
  if (sw !== undefined) config.slidingWindow = sw;
  if (typeof c.bos_token_id === 'number') config.bosTokenId = c.bos_token_id;
  return validateConfig(name, config);
}
