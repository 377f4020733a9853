/** llama2.c legacy .bin checkpoints. */
import { describe, expect, it } from 'vitest';
import { openLlama2cModel, openModelFile, readTensorF32 } from '../../src/model/formats/index.js';
import { openFileSource } from '../../src/platform/node/file-source.js';
import { expectError, memSource, modelBytes, modelPath } from './helpers.js';

/** A llama2.c file with the given header and weights 0, 1, 2, ... (as f32) in file order. */
function synthBin(h: [number, number, number, number, number, number, number], numFloats: number): Uint8Array {
  const out = new Uint8Array(28 + 4 * numFloats);
  const v = new DataView(out.buffer);
  h.forEach((x, i) => v.setInt32(4 * i, x, true));
  for (let i = 0; i < numFloats; i++) v.setFloat32(28 + 4 * i, i, true);
  return out;
}

describe('llama2.c', () => {
  it('stories260K.bin: config from the header and tensors in run.c order', async () => {
    const m = await openLlama2cModel(await openFileSource(modelPath('stories260K/stories260K.bin')));
    expect(m.format).toBe('llama2c');
    expect(m.config).toEqual({
      architecture: 'llama', hiddenSize: 64, intermediateSize: 172, numLayers: 5, numHeads: 8, numKvHeads: 4, headDim: 8,
      vocabSize: 512, maxPositionEmbeddings: 512, rmsNormEps: 1e-5, ropeTheta: 10000, ropeStyle: 'normal',
      ropeScaling: { type: 'none' }, rotaryDim: 8, tieWordEmbeddings: true, attentionBias: false, qkNorm: false,
      bosTokenId: 1, eosTokenIds: [2],
    });
    const at = (n: string): number => m.tensors.get(n)!.byteOffset;
    expect(at('token_embd.weight')).toBe(28);
    expect(at('blk.0.attn_norm.weight')).toBe(28 + 512 * 64 * 4);
    expect(at('blk.1.attn_norm.weight') - at('blk.0.attn_norm.weight')).toBe(64 * 4);
    expect(at('blk.0.attn_q.weight')).toBe(at('blk.4.attn_norm.weight') + 64 * 4);
    expect(m.tensors.get('blk.0.attn_k.weight')!.shape).toEqual([32, 64]);
    expect(m.tensors.get('blk.0.ffn_gate.weight')!.shape).toEqual([172, 64]);
    expect(m.tensors.get('blk.0.ffn_down.weight')!.shape).toEqual([64, 172]);
    // the final norm is followed by exactly the freq_cis block (2 x 512 x 4 floats) and EOF
    const fin = m.tensors.get('output_norm.weight')!;
    expect(fin.byteOffset + fin.byteLength + 2 * 512 * 4 * 4).toBe(1056540);
    const norm = await readTensorF32(fin);
    expect(norm.every((x) => Number.isFinite(x) && x > 0)).toBe(true);
    await m.close();
  });

  it('openModelFile detects llama2.c and GGUF', async () => {
    const bin = await openModelFile(await openFileSource(modelPath('stories260K/stories260K.bin')));
    const gguf = await openModelFile(await openFileSource(modelPath('stories260K/stories260K.gguf')));
    expect([bin.format, gguf.format]).toEqual(['llama2c', 'gguf']);
    await Promise.all([bin.close(), gguf.close()]);
    const st = await openFileSource(modelPath('stories260K-hf/model.safetensors'));
    await expectError(openModelFile(st), 'invalid_argument', /config\.json/);
    await st.close();
  });

  it('negative vocab_size means an unshared classifier stored after freq_cis', async () => {
    // dim 8, hidden 12, 1 layer, 2 heads, 1 kv head, vocab 5 (unshared), seq_len 3
    const dim = 8, hid = 12, vocab = 5, seq = 3, hd = 4, kv = 4;
    const floats = vocab * dim + dim + dim * dim + 2 * kv * dim + dim * dim + dim + 3 * hid * dim + dim + 2 * seq * (hd / 2) + vocab * dim;
    const m = await openLlama2cModel(memSource('u.bin', synthBin([dim, hid, 1, 2, 1, -vocab, seq], floats)));
    expect(m.config.tieWordEmbeddings).toBe(false);
    expect(m.config.vocabSize).toBe(5);
    const out = await readTensorF32(m.tensors.get('output.weight')!);
    expect(out[0]).toBe(floats - vocab * dim);
    expect(out[out.length - 1]).toBe(floats - 1);
    const up = await readTensorF32(m.tensors.get('blk.0.ffn_up.weight')!);
    expect(up[0]).toBe(vocab * dim + dim + dim * dim + 2 * kv * dim + dim * dim + dim + 2 * hid * dim);
  });

  it('rejects truncated, oversized, impossible and versioned files', async () => {
    const bytes = modelBytes('stories260K/stories260K.bin');
    for (const cut of [0, 10, 27, 28, 1000, 500_000, bytes.length - 1]) {
      await expectError(openLlama2cModel(memSource('s.bin', bytes.subarray(0, cut))), 'model_format', /s\.bin/, /truncated/);
    }
    const longer = new Uint8Array(bytes.length + 4);
    longer.set(bytes);
    await expectError(openLlama2cModel(memSource('s.bin', longer)), 'model_format', /4 bytes after the last weight/);
    await expectError(openLlama2cModel(memSource('z.bin', synthBin([0, 0, 0, 0, 0, 0, 0], 10))), 'model_format', /z\.bin/, /dim = 0/);
    await expectError(openLlama2cModel(memSource('h.bin', synthBin([64, 172, 5, 7, 7, 512, 512], 10))), 'model_format', /not a multiple of n_heads/);
    const v1 = synthBin([0x616b3432, 1, 64, 172, 5, 8, 4], 100);
    await expectError(openLlama2cModel(memSource('v1.bin', v1)), 'model_unsupported', /version 1\/2/);
  });
});
