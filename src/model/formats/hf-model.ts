/**
 * A Hugging Face model folder (config.json + safetensors, single or sharded) as a ModelFile.
 * HF names map to the canonical GGUF ones; shapes are already outermost first ([out, in]);
 * q/k rows stay in HF's rotate_half layout, so config.ropeStyle is 'neox'.
 */
import { isWgllmError } from '../../core/errors.js';
import type { ByteSource } from '../../core/platform.js';
import { formatError, readJson } from './byte-reader.js';
import { configFromHf } from './hf-config.js';
import { openSafetensorsSet } from './safetensors.js';
import { checkModelTensors, OUTPUT, OUTPUT_NORM, TOKEN_EMBD } from './tensor-names.js';
import type { ModelFile, OpenFile, TensorInfo } from './types.js';

const TOP_LEVEL: Record<string, string> = {
  'model.embed_tokens.weight': TOKEN_EMBD,
  'model.norm.weight': OUTPUT_NORM,
  'lm_head.weight': OUTPUT,
};

const PER_LAYER: Record<string, string> = {
  'input_layernorm.weight': 'attn_norm.weight',
  'self_attn.q_proj.weight': 'attn_q.weight',
  'self_attn.k_proj.weight': 'attn_k.weight',
  'self_attn.v_proj.weight': 'attn_v.weight',
  'self_attn.o_proj.weight': 'attn_output.weight',
  'self_attn.q_proj.bias': 'attn_q.bias',
  'self_attn.k_proj.bias': 'attn_k.bias',
  'self_attn.v_proj.bias': 'attn_v.bias',
  'self_attn.o_proj.bias': 'attn_output.bias',
  'self_attn.q_norm.weight': 'attn_q_norm.weight',
  'self_attn.k_norm.weight': 'attn_k_norm.weight',
  'post_attention_layernorm.weight': 'ffn_norm.weight',
  'mlp.gate_proj.weight': 'ffn_gate.weight',
  'mlp.up_proj.weight': 'ffn_up.weight',
  'mlp.down_proj.weight': 'ffn_down.weight',
};

const LAYER_RE = /^model\.layers\.(\d+)\.(.+)$/;

/** Canonical name of an HF tensor name; undefined for buffers we drop; the HF name if unknown. */
export function canonicalHfName(hfName: string): string | undefined {
  const top = TOP_LEVEL[hfName];
  if (top) return top;
  const m = LAYER_RE.exec(hfName);
  if (!m) return hfName;
  // Old checkpoints saved the rotary inverse frequencies as a buffer; we compute them.
  if (m[2] === 'self_attn.rotary_emb.inv_freq') return undefined;
  const suffix = PER_LAYER[m[2]!];
  return suffix ? `blk.${m[1]}.${suffix}` : hfName;
}

async function readOptionalJson(openFile: OpenFile, path: string): Promise<unknown> {
  let src: ByteSource;
  try {
    src = await openFile(path);
  } catch (e) {
    if (isWgllmError(e, 'not_found')) return undefined;
    throw e;
  }
  try {
    return await readJson(src);
  } finally {
    await src.close();
  }
}

/**
 * Opens an HF folder through `openFile` (paths relative to the folder). `name` labels messages.
 * EOS ids are the union of config.json's and generation_config.json's (chat models often list
 * their end-of-turn token only in the latter).
 */
export async function openHfModel(openFile: OpenFile, name = 'model folder'): Promise<ModelFile> {
  const json = await readOptionalJson(openFile, 'config.json');
  if (json === undefined) throw formatError(name, 'has no config.json');
  const config = configFromHf(`${name}/config.json`, json);
  const gen = await readOptionalJson(openFile, 'generation_config.json').catch(() => undefined);
  const genEos = (gen as { eos_token_id?: unknown } | undefined)?.eos_token_id;
  for (const id of typeof genEos === 'number' ? [genEos] : Array.isArray(genEos) ? genEos : []) {
    if (typeof id === 'number' && Number.isSafeInteger(id) && id >= 0 && id < config.vocabSize && !config.eosTokenIds.includes(id)) {
      config.eosTokenIds.push(id);
    }
  }
  const set = await openSafetensorsSet(openFile);
  const close = async (): Promise<void> => void (await Promise.all(set.sources.map((s) => s.close())));
  try {
    const tensors = new Map<string, TensorInfo>();
    for (const [hfName, t] of set.tensors) {
      const canon = canonicalHfName(hfName);
      if (canon === undefined) continue;
      // With tied embeddings, transformers ignores a stored lm_head and uses embed_tokens.
      if (canon === OUTPUT && config.tieWordEmbeddings) continue;
      if (tensors.has(canon)) throw formatError(t.source, `tensor '${hfName}' appears twice`);
      tensors.set(canon, { ...t, name: canon });
    }
    checkModelTensors(name, config, tensors);
    return { format: 'safetensors', name, config, tensors, hfConfig: json as Record<string, unknown>, close };
  } catch (e) {
    await close().catch(() => undefined);
    throw e;
  }
}
