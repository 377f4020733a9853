/**
 * Benchmark models (bench/gen-model.ts): real shapes, random weights, SmolLM2's tokenizer. The
 * files must be valid GGUF for our reader and for @huggingface/gguf, carry the intended config
 * and every tensor, tokenize, and run two greedy tokens on the engine (values are random, so only check that tokens
 * come out). Depth is cut to 1-2 layers to stay quick on SwiftShader.
 */
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gguf } from '@huggingface/gguf';
import { afterAll, describe, expect, it } from 'vitest';
import { dequantize } from '../../src/core/reference/dequant.js';
import type { DType } from '../../src/core/dtype.js';
import { createEngine } from '../../src/engine/create.js';
import type { GenerationEvent } from '../../src/engine/types.js';
import { openModelFiles } from '../../src/model/open.js';
import { expectedTensors } from '../../src/model/formats/tensor-names.js';
import { createNodePlatform } from '../../src/platform/node/index.js';
import { openLocalModel } from '../../src/platform/node/model-location.js';
import { MemoryTuneStore } from '../../src/tune/store.js';
import { generateModel } from '../../bench/gen-model.js';
import { writeGguf, type GgmlTypeName } from '../../bench/gguf-writer.js';
import { MODEL_SHAPES, type FileFormat, type ModelId } from '../../bench/model-shapes.js';
import { testGpu } from '../support/gpu.js';
import { modelPath, readJson } from '../support/models.js';

const TOKENIZER = modelPath('smollm2-135m-instruct-tokenizer/tokenizer.json');
const dir = await mkdtemp(path.join(os.tmpdir(), 'wgllm-gen-model-'));
afterAll(() => rm(dir, { recursive: true, force: true }));

it('random weights of every type dequantize to finite values of a moderate size', async () => {
  const names: GgmlTypeName[] = ['F32', 'F16', 'Q8_0', 'Q4_0', 'Q5_0', 'Q4_K', 'Q6_K'];
  const file = path.join(dir, 'types.gguf');
  // 8 Mi elements: the F32 tensor spans two 16 MiB write chunks, so a chunk seam is covered too
  await writeGguf(file, new Map(), names.map((type) => ({ name: type, shape: [8192, 1024], type, fill: 'random' as const })));
  const g = await gguf(file, { allowLocalFile: true });
  const bytes = new Uint8Array(await readFile(file));
  const infos = g.tensorInfos;
  for (const [i, t] of infos.entries()) {
    const start = g.tensorDataOffset + t.offset;
    const end = i + 1 < infos.length ? g.tensorDataOffset + infos[i + 1]!.offset : BigInt(bytes.length);
    const x = dequantize(t.name.toLowerCase() as DType, bytes.subarray(Number(start), Number(end)), 8192 * 1024);
    let sq = 0;
    for (const v of x) {
      if (!Number.isFinite(v)) throw new Error(`${t.name}: ${v}`);
      sq += v * v;
    }
    const rms = Math.sqrt(sq / x.length);
    expect(rms, t.name).toBeGreaterThan(0.003);
    expect(rms, t.name).toBeLessThan(0.1);
  }
});

const CASES: { model: ModelId; format: FileFormat; layers: number; types: Record<string, string> }[] = [
  // tied, hidden 576 (not a multiple of 256): token_embd is the classifier, Q8_0 instead of Q6_K
  { model: 'smollm2-135m', format: 'Q4_0', layers: 2, types: { 'token_embd.weight': 'q8_0', 'blk.1.ffn_down.weight': 'q4_0', 'output_norm.weight': 'f32' } },
  // tied, qkv biases, vocab padded from 49152 to 151936
  { model: 'qwen2.5-0.5b', format: 'Q8_0', layers: 1, types: { 'token_embd.weight': 'q8_0', 'blk.0.attn_q.bias': 'f32' } },
];

describe.each(CASES)('gen-model $model $format, $layers layers', async ({ model, format, layers, types }) => {
  const file = path.join(dir, `${model}-${format}.gguf`);
  const r = await generateModel({ model, format, out: file, layers, tokenizer: TOKENIZER });
  const shape = MODEL_SHAPES[model];

  it('writes the size the tensors add up to', async () => {
    expect((await stat(file)).size).toBe(r.bytes);
    expect(r.shape.layers).toBe(layers);
  });

  it('opens with our reader: the intended config, every tensor, the right types, a working tokenizer', async () => {
    const { model: m, tokenizer } = await openModelFiles(await openLocalModel(file));
    try {
      expect(m.config).toMatchObject({
        architecture: shape.arch,
        hiddenSize: shape.hidden,
        intermediateSize: shape.ffn,
        numLayers: layers,
        numHeads: shape.heads,
        numKvHeads: shape.kvHeads,
        headDim: shape.headDim,
        vocabSize: shape.vocab,
        ropeTheta: shape.ropeTheta,
        tieWordEmbeddings: shape.tiedEmbeddings,
        attentionBias: shape.qkvBias,
        maxPositionEmbeddings: shape.contextLength,
        ropeScaling: { type: 'none' },
      });
      expect(m.config.rmsNormEps).toBeCloseTo(shape.rmsEps, 12);
      expect([...m.tensors.keys()].sort()).toEqual([...expectedTensors(m.config).keys()].sort());
      for (const [name, dtype] of Object.entries(types)) expect(m.tensors.get(name)?.dtype, name).toBe(dtype);
      const text = 'Hello world, benchmarks!';
      const ids = tokenizer.encode(text, { addSpecialTokens: false });
      expect(ids.length).toBeGreaterThan(2);
      expect(ids.every((i) => i < 49152)).toBe(true);
      expect(tokenizer.decode(ids)).toBe(text);
      expect(tokenizer.chatTemplate).toBe(readJson<{ chat_template: string }>('tiny-smollm2/tokenizer_config.json').chat_template);
    } finally {
      await m.close();
    }
  });

  it('parses with @huggingface/gguf', async () => {
    const g = await gguf(file, { allowLocalFile: true });
    expect(g.metadata['general.architecture']).toBe(shape.arch);
    expect((g.metadata as Record<string, unknown>)['tokenizer.ggml.tokens']).toHaveLength(shape.vocab);
    const embd = g.tensorInfos.find((t) => t.name === 'token_embd.weight');
    expect(embd?.shape.map(Number)).toEqual([shape.hidden, shape.vocab]);
  });

  it('runs greedy tokens on the engine', async () => {
    const platform = { ...createNodePlatform(), tuneStore: new MemoryTuneStore() };
    const engine = await createEngine({ model: file, platform, gpu: await testGpu(), act: 'f32', maxModelLen: 64, maxNumSeqs: 2, maxNumBatchedTokens: 64 });
    try {
      const out: number[] = [];
      for await (const e of engine.generate([1, 19556, 905] as number[], { temperature: 0, maxTokens: 2, ignoreEos: true }) as AsyncIterable<GenerationEvent>) {
        if (e.type === 'tokens') out.push(...e.tokenIds);
      }
      expect(out).toHaveLength(2);
      expect(out.every((i) => Number.isInteger(i) && i >= 0 && i < shape.vocab)).toBe(true);
    } finally {
      await engine.dispose();
    }
  });
});
