/** HF config.json -> ModelConfig, name mapping, single and sharded safetensors. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ModelConfig } from '../../src/core/model-config.js';
import { canonicalHfName, configFromHf, openHfModel, parseSafetensors, readTensorBytes } from '../../src/model/formats/index.js';
import { folderOpener } from '../../src/platform/node/file-source.js';
import { expectError, json, memFolder, memSource, modelBytes, modelPath, writeSafetensors } from './helpers.js';

const readConfig = (dir: string): Record<string, unknown> => JSON.parse(readFileSync(modelPath(`${dir}/config.json`), 'utf8'));

const base: Pick<ModelConfig, 'rmsNormEps' | 'ropeStyle' | 'ropeScaling' | 'attentionBias' | 'qkNorm' | 'tieWordEmbeddings' | 'bosTokenId' | 'eosTokenIds'> = {
  rmsNormEps: 1e-5, ropeStyle: 'neox', ropeScaling: { type: 'none' }, attentionBias: false, qkNorm: false,
  tieWordEmbeddings: true, bosTokenId: 1, eosTokenIds: [2],
};

const EXPECTED: Record<string, ModelConfig> = {
  'stories260K-hf': {
    ...base, architecture: 'llama', hiddenSize: 64, intermediateSize: 172, numLayers: 5, numHeads: 8, numKvHeads: 4, headDim: 8,
    rotaryDim: 8, vocabSize: 512, maxPositionEmbeddings: 512, ropeTheta: 10000, eosTokenIds: [2],
  },
  'tiny-smollm2': {
    ...base, architecture: 'llama', hiddenSize: 64, intermediateSize: 192, numLayers: 4, numHeads: 4, numKvHeads: 2, headDim: 16,
    rotaryDim: 16, vocabSize: 49152, maxPositionEmbeddings: 2048, ropeTheta: 100000,
  },
  'tiny-qwen2': {
    ...base, architecture: 'qwen2', hiddenSize: 64, intermediateSize: 160, numLayers: 3, numHeads: 4, numKvHeads: 2, headDim: 16,
    rotaryDim: 16, vocabSize: 49152, maxPositionEmbeddings: 32768, ropeTheta: 1e6, rmsNormEps: 1e-6, attentionBias: true,
  },
  'tiny-qwen3': {
    ...base, architecture: 'qwen3', hiddenSize: 64, intermediateSize: 192, numLayers: 3, numHeads: 4, numKvHeads: 2, headDim: 32,
    rotaryDim: 32, vocabSize: 49152, maxPositionEmbeddings: 40960, ropeTheta: 1e6, rmsNormEps: 1e-6, qkNorm: true,
  },
  'tiny-llama3': {
    ...base, architecture: 'llama', hiddenSize: 64, intermediateSize: 256, numLayers: 2, numHeads: 4, numKvHeads: 1, headDim: 32,
    rotaryDim: 32, vocabSize: 49152, maxPositionEmbeddings: 131072, ropeTheta: 500000, tieWordEmbeddings: false,
    ropeScaling: { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 },
  },
  'smollm2-135m-instruct-tokenizer': {
    ...base, architecture: 'llama', hiddenSize: 576, intermediateSize: 1536, numLayers: 30, numHeads: 9, numKvHeads: 3, headDim: 64,
    rotaryDim: 64, vocabSize: 49152, maxPositionEmbeddings: 8192, ropeTheta: 100000,
  },
};

describe('config.json -> ModelConfig', () => {
  it.each(Object.keys(EXPECTED))('%s', (dir) => {
    expect(configFromHf(`${dir}/config.json`, readConfig(dir))).toEqual(EXPECTED[dir]);
  });

  it('transformers 5 rope_parameters alone give the same result as rope_theta/rope_scaling', () => {
    const c = readConfig('tiny-llama3');
    delete c.rope_theta;
    delete c.rope_scaling;
    expect(configFromHf('x', c)).toEqual(EXPECTED['tiny-llama3']);
  });

  it('linear scaling, eos lists, default kv heads and head_dim', () => {
    const c: Record<string, unknown> = { ...readConfig('tiny-smollm2'), rope_scaling: { type: 'linear', factor: 2 }, eos_token_id: [2, 0, 2] };
    delete c.num_key_value_heads;
    delete c.head_dim;
    delete c.bos_token_id;
    const got = configFromHf('x', c);
    expect(got.ropeScaling).toEqual({ type: 'linear', factor: 2 });
    expect(got.eosTokenIds).toEqual([2, 0]);
    expect([got.numKvHeads, got.headDim, got.bosTokenId]).toEqual([4, 16, undefined]);
  });

  it('sliding window only when use_sliding_window is set, and only when every layer slides', async () => {
    const q = readConfig('tiny-qwen2');
    expect(configFromHf('x', { ...q, sliding_window: 4096 }).slidingWindow).toBeUndefined();
    const all = { ...q, use_sliding_window: true, sliding_window: 4096, layer_types: ['sliding_attention', 'sliding_attention', 'sliding_attention'] };
    expect(configFromHf('x', all).slidingWindow).toBe(4096);
    const some: Record<string, unknown> = { ...q, use_sliding_window: true, sliding_window: 4096, max_window_layers: 1 };
    delete some.layer_types;
    await expectError(() => configFromHf('x', some), 'model_unsupported', /sliding-window attention in 2 of 3 layers/);
  });

  it('refuses what it does not implement, naming it', async () => {
    const c = readConfig('tiny-smollm2');
    await expectError(() => configFromHf('cfg', { ...c, model_type: 'gemma2', architectures: ['Gemma2ForCausalLM'] }), 'model_unsupported', /cfg/, /gemma2/);
    await expectError(() => configFromHf('cfg', { ...c, rope_scaling: { rope_type: 'yarn', factor: 4 } }), 'model_unsupported', /yarn/);
    await expectError(() => configFromHf('cfg', { ...c, hidden_act: 'gelu' }), 'model_unsupported', /gelu/);
    await expectError(() => configFromHf('cfg', { ...c, attention_bias: true }), 'model_unsupported', /attention_bias/);
  });

  it('rejects impossible values as model_format', async () => {
    const c = readConfig('tiny-smollm2');
    await expectError(() => configFromHf('cfg', { ...c, hidden_size: '64' }), 'model_format', /cfg/, /hidden_size/);
    await expectError(() => configFromHf('cfg', { ...c, num_key_value_heads: 3 }), 'model_format', /multiple of numKvHeads/);
    await expectError(() => configFromHf('cfg', { ...c, num_hidden_layers: 0 }), 'model_format', /numLayers/);
    await expectError(() => configFromHf('cfg', { ...c, eos_token_id: 99999 }), 'model_format', /99999/);
    await expectError(() => configFromHf('cfg', [1, 2]), 'model_format', /not a JSON object/);
  });
});

describe('HF names and folders', () => {
  it('maps HF names to canonical ones', () => {
    expect(canonicalHfName('model.embed_tokens.weight')).toBe('token_embd.weight');
    expect(canonicalHfName('lm_head.weight')).toBe('output.weight');
    expect(canonicalHfName('model.norm.weight')).toBe('output_norm.weight');
    expect(canonicalHfName('model.layers.12.self_attn.k_proj.bias')).toBe('blk.12.attn_k.bias');
    expect(canonicalHfName('model.layers.0.self_attn.q_norm.weight')).toBe('blk.0.attn_q_norm.weight');
    expect(canonicalHfName('model.layers.3.post_attention_layernorm.weight')).toBe('blk.3.ffn_norm.weight');
    expect(canonicalHfName('model.layers.3.mlp.down_proj.weight')).toBe('blk.3.ffn_down.weight');
    expect(canonicalHfName('model.layers.3.self_attn.rotary_emb.inv_freq')).toBeUndefined();
    expect(canonicalHfName('model.layers.3.mlp.experts.0.w1')).toBe('model.layers.3.mlp.experts.0.w1');
  });

  it('opens each HF folder with canonical names and [out, in] shapes', async () => {
    const m = await openHfModel(folderOpener(modelPath('tiny-qwen3')), 'tiny-qwen3');
    expect(m.format).toBe('safetensors');
    expect(m.tensors.size).toBe(2 + 3 * 11);
    expect(m.tensors.get('blk.0.attn_q.weight')!.shape).toEqual([128, 64]);
    expect(m.tensors.get('blk.0.attn_k_norm.weight')!.shape).toEqual([32]);
    expect(m.tensors.has('output.weight')).toBe(false);
    await m.close();
    const l3 = await openHfModel(folderOpener(modelPath('tiny-llama3')), 'tiny-llama3');
    expect(l3.tensors.get('output.weight')!.shape).toEqual([49152, 64]);
    await l3.close();
  });

  it('reads a sharded checkpoint through model.safetensors.index.json', async () => {
    // Split stories260K-hf into two shards, in memory.
    const whole = await parseSafetensors(memSource('model.safetensors', modelBytes('stories260K-hf/model.safetensors')));
    const names = [...whole.tensors.keys()];
    const shards: Record<string, Record<string, unknown>>[] = [{}, {}];
    const data: Uint8Array[][] = [[], []];
    const sizes = [0, 0];
    const weightMap: Record<string, string> = {};
    for (const [i, name] of names.entries()) {
      const s = i % 2, t = whole.tensors.get(name)!;
      const bytes = await readTensorBytes(t);
      shards[s]![name] = { dtype: 'F32', shape: t.shape, data_offsets: [sizes[s], sizes[s]! + bytes.length] };
      data[s]!.push(bytes);
      sizes[s]! += bytes.length;
      weightMap[name] = `model-0000${s + 1}-of-00002.safetensors`;
    }
    const files: Record<string, Uint8Array> = {
      'config.json': modelBytes('stories260K-hf/config.json'),
      'model.safetensors.index.json': json({ metadata: { total_size: sizes[0]! + sizes[1]! }, weight_map: weightMap }),
    };
    for (const s of [0, 1]) files[`model-0000${s + 1}-of-00002.safetensors`] = writeSafetensors(shards[s]!, Buffer.concat(data[s]!));
    const m = await openHfModel(memFolder(files), 'sharded');
    const ref = await openHfModel(folderOpener(modelPath('stories260K-hf')), 'stories260K-hf');
    expect(m.config).toEqual(ref.config);
    expect([...m.tensors.keys()].sort()).toEqual([...ref.tensors.keys()].sort());
    for (const [name, t] of ref.tensors) {
      expect(Buffer.from(await readTensorBytes(m.tensors.get(name)!)).equals(await readTensorBytes(t)), name).toBe(true);
    }
    expect(new Set([...m.tensors.values()].map((t) => t.source.name)).size).toBe(2);
    await Promise.all([m.close(), ref.close()]);

    // the index must agree with the shards
    const wrongShard = weightMap['model.norm.weight']!.startsWith('model-00001') ? 'model-00002-of-00002.safetensors' : 'model-00001-of-00002.safetensors';
    const lying = { ...files, 'model.safetensors.index.json': json({ weight_map: { ...weightMap, 'model.norm.weight': wrongShard } }) };
    await expectError(openHfModel(memFolder(lying), 'sharded'), 'model_format', /model\.norm\.weight/);
    const escaping = { ...files, 'model.safetensors.index.json': json({ weight_map: { ...weightMap, 'model.norm.weight': '../x.safetensors' } }) };
    await expectError(openHfModel(memFolder(escaping), 'sharded'), 'model_format', /\.\.\/x\.safetensors/);
    const missingShard = { ...files };
    delete missingShard['model-00002-of-00002.safetensors'];
    await expectError(openHfModel(memFolder(missingShard), 'sharded'), 'not_found', /model-00002-of-00002/);
  });

  it('folders without weights or config say so', async () => {
    await expectError(openHfModel(memFolder({ 'config.json': modelBytes('tiny-qwen2/config.json') }), 'f'), 'not_found', /model\.safetensors/);
    await expectError(openHfModel(memFolder({}), 'f'), 'model_format', /f: has no config\.json/);
    await expectError(openHfModel(folderOpener(modelPath('smollm2-135m-instruct-tokenizer')), 'smollm2'), 'not_found');
  });
});
