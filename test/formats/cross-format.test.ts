/**
 * The same model read from different formats gives the same numbers: stories260K bit-identical
 * across GGUF, llama2.c and HF (after undoing llama.cpp's q/k row permutation); the tiny-* GGUFs
 * agree with their HF F32 originals: F16 exactly equal to f16 rounding, Q8_0/Q4_0/Q5_0 byte-equal
 * to re-quantizing the originals with ggml's reference encoders, Q4_K/Q6_K within their step.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { roundToF16, blockFormat } from '../../src/core/dtype.js';
import { quantize } from '../../src/core/reference/dequant.js';
import { openGgufModel, openHfModel, openLlama2cModel, readTensorBytes, readTensorF32, type ModelFile } from '../../src/model/formats/index.js';
import { folderOpener, openFileSource } from '../../src/platform/node/file-source.js';
import { modelPath, permuteHfRows, unpermuteGgufRows } from './helpers.js';

const gguf = async (rel: string): Promise<ModelFile> => openGgufModel(await openFileSource(modelPath(rel)));
const hfModel = (dir: string): Promise<ModelFile> => openHfModel(folderOpener(modelPath(dir)), dir);
const sameBits = (a: Float32Array, b: Float32Array): boolean => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
const isQK = (name: string): boolean => /\.attn_[qk]\.weight$/.test(name);

describe('stories260K: GGUF, llama2.c .bin and HF safetensors hold the same weights', () => {
  let g: ModelFile, bin: ModelFile, hf: ModelFile;
  beforeAll(async () => {
    g = await gguf('stories260K/stories260K.gguf');
    bin = await openLlama2cModel(await openFileSource(modelPath('stories260K/stories260K.bin')));
    hf = await hfModel('stories260K-hf');
  });
  afterAll(async () => Promise.all([g.close(), bin.close(), hf.close()]));

  it('GGUF == .bin byte for byte, q/k in the same interleaved layout', async () => {
    expect(bin.tensors.size).toBe(47); // 5 layers x 9 + embedding + final norm; tied, so no output.weight
    for (const [name, t] of bin.tensors) {
      const gt = g.tensors.get(name)!;
      expect(gt.shape, name).toEqual(t.shape);
      expect(Buffer.from(await readTensorBytes(gt)).equals(await readTensorBytes(t)), name).toBe(true);
    }
    // the GGUF stores the tied classifier as a copy of the embedding
    expect(Buffer.from(await readTensorBytes(g.tensors.get('output.weight')!)).equals(await readTensorBytes(bin.tensors.get('token_embd.weight')!))).toBe(true);
  });

  it('GGUF == HF bit for bit once the q/k row permutation is undone (and differs without it)', async () => {
    expect(hf.tensors.size).toBe(47);
    const { numHeads, numKvHeads } = g.config;
    for (const [name, t] of hf.tensors) {
      const gt = g.tensors.get(name)!;
      expect(gt.shape, name).toEqual(t.shape);
      const want = await readTensorF32(t);
      let got = await readTensorF32(gt);
      if (isQK(name)) {
        expect(sameBits(got, want), `${name} is permuted`).toBe(false);
        got = unpermuteGgufRows(got, t.shape[0]!, t.shape[1]!, name.includes('attn_q') ? numHeads : numKvHeads);
      }
      expect(sameBits(got, want), name).toBe(true);
    }
  });

  it('configs agree except where the formats legitimately differ', () => {
    const { ropeStyle: hfStyle, ...hfRest } = hf.config;
    const { ropeStyle: binStyle, ...binRest } = bin.config;
    expect(hfStyle).toBe('neox');
    expect(binStyle).toBe('normal');
    expect(binRest).toEqual(hfRest);
    // GGUF: converter context 2048 (trained 512), classifier stored untied
    expect(g.config).toEqual({ ...bin.config, maxPositionEmbeddings: 2048, tieWordEmbeddings: false });
  });
});

const FILES: Record<string, string[]> = {
  'tiny-smollm2': ['F16', 'Q8_0', 'Q4_0', 'Q4_K_M'],
  'tiny-qwen2': ['F16', 'Q8_0'],
  'tiny-qwen3': ['F16', 'Q8_0'],
  'tiny-llama3': ['F16', 'Q8_0', 'Q4_0', 'Q4_K_M'],
};

/** Max over sub-blocks of (max |error|) / (sub-block quantization unit) for K-quants. */
function kQuantError(want: Float32Array, got: Float32Array, dtype: 'q4_k' | 'q6_k'): number {
  const sub = dtype === 'q4_k' ? 32 : 16;
  let worst = 0;
  for (let s = 0; s < want.length; s += sub) {
    let lo = 0, hi = 0, amax = 0, err = 0;
    for (let j = s; j < s + sub; j++) {
      const w = want[j]!;
      lo = Math.min(lo, w), hi = Math.max(hi, w), amax = Math.max(amax, Math.abs(w));
      err = Math.max(err, Math.abs(w - got[j]!));
    }
    // Q4_K: 16 levels over [min(0, lo), hi]; Q6_K: 64 symmetric levels over amax
    const unit = dtype === 'q4_k' ? (hi - lo) / 15 : amax / 32;
    if (unit > 0) worst = Math.max(worst, err / unit);
  }
  return worst;
}

describe.each(Object.entries(FILES))('%s: every GGUF agrees with the HF F32 weights', (dir, kinds) => {
  let hf: ModelFile;
  beforeAll(async () => void (hf = await hfModel(dir)));
  afterAll(async () => hf.close());

  it.each(kinds)('%s', async (kind) => {
    const g = await gguf(`${dir}/${dir}-${kind}.gguf`);
    try {
      const { ropeStyle, ...rest } = g.config;
      const { ropeStyle: hfStyle, ...hfRest } = hf.config;
      expect(rest).toEqual(hfRest);
      expect(hfStyle).toBe('neox');
      expect(ropeStyle).toBe(g.config.architecture === 'llama' ? 'normal' : 'neox');
      const seen = new Set<string>();
      for (const [name, ht] of hf.tensors) {
        const t = g.tensors.get(name);
        expect(t, name).toBeDefined();
        expect(t!.shape, name).toEqual(ht.shape);
        seen.add(name);
        let want = await readTensorF32(ht);
        if (g.config.architecture === 'llama' && isQK(name)) {
          const heads = name.includes('attn_q') ? g.config.numHeads : g.config.numKvHeads;
          want = permuteHfRows(want, ht.shape[0]!, ht.shape[1]!, heads);
        }
        switch (t!.dtype) {
          case 'f32':
            expect(sameBits(await readTensorF32(t!), want), name).toBe(true);
            break;
          case 'f16':
            expect(sameBits(await readTensorF32(t!), roundToF16(want)), name).toBe(true);
            break;
          case 'q8_0':
          case 'q4_0':
          case 'q5_0': {
            // llama.cpp quantized these with ggml's reference encoders, as ours do: same bytes
            const file = await readTensorBytes(t!);
            expect(Buffer.from(quantize(t!.dtype, want)).equals(file), `${name} ${t!.dtype}`).toBe(true);
            break;
          }
          case 'q4_k':
          case 'q6_k':
            // llama.cpp searches scales iteratively, so only the error is comparable
            expect(kQuantError(want, await readTensorF32(t!), t!.dtype), name).toBeLessThan(t!.dtype === 'q4_k' ? 1 : 0.6);
            break;
          default:
            throw new Error(`unexpected ${t!.dtype}`);
        }
      }
      const extra = [...g.tensors.keys()].filter((n) => !seen.has(n));
      expect(extra).toEqual(dir === 'tiny-llama3' ? ['rope_freqs.weight'] : []);
    } finally {
      await g.close();
    }
  });
});

it('tiny-llama3-Q4_K_M holds one Q4_K and one Q6_K tensor, and Q5_0 fallbacks', async () => {
  const g = await gguf('tiny-llama3/tiny-llama3-Q4_K_M.gguf');
  expect(g.tensors.get('blk.0.ffn_down.weight')!.dtype).toBe('q4_k');
  expect(g.tensors.get('blk.1.ffn_down.weight')!.dtype).toBe('q6_k');
  expect(g.tensors.get('token_embd.weight')!.dtype).toBe('q5_0');
  const t = g.tensors.get('blk.0.ffn_down.weight')!;
  expect(t.byteLength).toBe((64 * 256 / blockFormat('q4_k').blockElems) * blockFormat('q4_k').blockBytes);
  await g.close();
});
