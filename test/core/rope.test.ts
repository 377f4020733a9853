import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ropeCosSin, ropeInvFreq } from '../../src/core/reference/rope.js';
import { openModel, readTensorF32, ROPE_FREQS } from '../../src/model/formats/index.js';
import { openFileSource } from '../../src/platform/node/file-source.js';

const MODELS = path.resolve(__dirname, '../../../shared/models');

describe('RoPE frequencies', () => {
  it('llama3 scaling equals the divisors llama.cpp stored in the GGUF (rope_freqs.weight)', async () => {
    // tiny-llama3: theta 5e5, head_dim 32, factor 8, low 1, high 4, original context 8192.
    const model = await openModel({ kind: 'gguf', source: await openFileSource(path.join(MODELS, 'tiny-llama3/tiny-llama3-F16.gguf')) });
    try {
      const divisors = await readTensorF32(model.tensors.get(ROPE_FREQS)!); // [16]
      const plain = ropeInvFreq(32, 5e5, { type: 'none' });
      const scaled = ropeInvFreq(32, 5e5, { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 });
      expect(divisors.length).toBe(16);
      expect(divisors.some((d) => d === 8) && divisors.some((d) => d === 1)).toBe(true); // both ends of the ramp occur
      for (let i = 0; i < 16; i++) expect(scaled[i]!).toBeCloseTo(plain[i]! / divisors[i]!, 6);
    } finally {
      await model.close();
    }
  });

  it('linear scaling divides every frequency', () => {
    const a = ropeInvFreq(64, 1e4, { type: 'none' });
    const b = ropeInvFreq(64, 1e4, { type: 'linear', factor: 4 });
    for (let i = 0; i < 32; i++) expect(b[i]).toBeCloseTo(a[i]! / 4, 12);
    expect(a[0]).toBe(1);
    expect(a[1]).toBeCloseTo(1e4 ** (-2 / 64), 7);
  });

  it('tabulates cos/sin of position * frequency', () => {
    const t = ropeCosSin(new Float32Array([1, 0.5]), 3);
    expect(t.length).toBe(12);
    expect(t[2 * 2 + 0]).toBeCloseTo(Math.cos(1), 6); // p=1, i=0
    expect(t[2 * 2 + 3]).toBeCloseTo(Math.sin(0.5), 6); // p=1, i=1
    expect(t[2 * 4 + 2]).toBeCloseTo(Math.cos(1), 6); // p=2, i=1
  });
});
