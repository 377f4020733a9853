/**
 * CPU dequantization of GGUF blocks: hand-built blocks with known values (documenting each
 * layout), encoder round trips within each format's error bound, and agreement of the models'
 * quantized files with their F16 files.
 */
import { describe, expect, it } from 'vitest';
import { f32ToF16Bits, blockFormat, type DType } from '../../src/core/dtype.js';
import { Rng } from '../../src/core/random.js';
import { dequantize, quantize, quantizeQ8_0 } from '../../src/core/reference/dequant.js';
import { openGgufModel, readTensorF32 } from '../../src/model/formats/index.js';
import { openFileSource } from '../../src/platform/node/file-source.js';
import { modelPath } from '../formats/helpers.js';

const h = (x: number): [number, number] => {
  const b = f32ToF16Bits(x);
  return [b & 0xff, b >> 8];
};

describe('known blocks', () => {
  it('Q8_0: d * q', () => {
    const qs = Array.from({ length: 32 }, (_, j) => j * 8 - 128); // -128 .. 120
    const block = Uint8Array.from([...h(0.5), ...qs.map((q) => q & 0xff)]);
    expect(Array.from(dequantize('q8_0', block, 32))).toEqual(qs.map((q) => q * 0.5));
  });

  it('Q4_0: low nibbles are x[0..16), high nibbles x[16..32), offset 8', () => {
    const block = Uint8Array.from([...h(2), ...Array.from({ length: 16 }, (_, j) => j | ((15 - j) << 4))]);
    const want = [...Array.from({ length: 16 }, (_, j) => (j - 8) * 2), ...Array.from({ length: 16 }, (_, j) => (15 - j - 8) * 2)];
    expect(Array.from(dequantize('q4_0', block, 32))).toEqual(want);
  });

  it('Q5_0: bit j of qh is the 5th bit of x[j], bit j+16 that of x[j+16], offset 16', () => {
    const q = Array.from({ length: 32 }, (_, j) => (j * 7) % 32); // 5-bit codes
    let qh = 0;
    q.forEach((v, j) => (qh |= (v >> 4) << j));
    const qs = Array.from({ length: 16 }, (_, j) => (q[j]! & 15) | ((q[j + 16]! & 15) << 4));
    const block = Uint8Array.from([...h(0.25), qh & 0xff, (qh >>> 8) & 0xff, (qh >>> 16) & 0xff, qh >>> 24, ...qs]);
    expect(Array.from(dequantize('q5_0', block, 32))).toEqual(q.map((v) => (v - 16) * 0.25));
  });

  it('Q4_K: 8 sub-blocks of 32 with 6-bit scales/mins packed in 12 bytes; 64 elements per 32 qs bytes', () => {
    const sc = [1, 2, 3, 17, 33, 47, 62, 63];
    const mn = [0, 10, 20, 30, 40, 50, 61, 63];
    // bytes 0-3: scale j (6 bits) + top 2 bits of scale j+4; 4-7: min j + top 2 bits of min j+4;
    // 8-11: low 4 bits of scale j+4 | low 4 bits of min j+4 << 4
    const scales = [
      ...[0, 1, 2, 3].map((j) => sc[j]! | ((sc[j + 4]! >> 4) << 6)),
      ...[0, 1, 2, 3].map((j) => mn[j]! | ((mn[j + 4]! >> 4) << 6)),
      ...[0, 1, 2, 3].map((j) => (sc[j + 4]! & 15) | ((mn[j + 4]! & 15) << 4)),
    ];
    const code = (e: number): number => (e * 5 + (e >> 5)) % 16;
    // qs[32c + l]: low nibble = element 64c + l, high nibble = element 64c + 32 + l
    const qs = Array.from({ length: 128 }, (_, i) => {
      const c = i >> 5, l = i & 31;
      return code(64 * c + l) | (code(64 * c + 32 + l) << 4);
    });
    const d = 0.125, dmin = 0.0625;
    const block = Uint8Array.from([...h(d), ...h(dmin), ...scales, ...qs]);
    const want = Array.from({ length: 256 }, (_, e) => d * sc[e >> 5]! * code(e) - dmin * mn[e >> 5]!);
    expect(Array.from(dequantize('q4_k', block, 256))).toEqual(want);
  });

  it('Q6_K: ql low nibbles, qh 2-bit pairs, int8 scales per 16, d at the end', () => {
    const code = (e: number): number => (e * 11 + 3) % 64; // 6-bit, stored +32
    const scales = Array.from({ length: 16 }, (_, s) => (s % 2 ? -1 : 1) * (s * 8 + 1));
    const ql = new Array<number>(128).fill(0), qh = new Array<number>(64).fill(0);
    // per half n (128 elements): element 128n + 32k + l (k = 0..3, l < 32) keeps its low 4 bits in
    // ql[64n + l + 32*(k&1)] (low nibble for k < 2, high for k >= 2) and its top 2 bits in
    // qh[32n + l] at bit 2k.
    for (let e = 0; e < 256; e++) {
      const n = e >> 7, k = (e >> 5) & 3, l = e & 31, q = code(e);
      ql[64 * n + l + 32 * (k & 1)]! |= (q & 15) << (k >= 2 ? 4 : 0);
      qh[32 * n + l]! |= (q >> 4) << (2 * k);
    }
    const block = Uint8Array.from([...ql, ...qh, ...scales.map((s) => s & 0xff), ...h(0.5)]);
    const want = Array.from({ length: 256 }, (_, e) => 0.5 * scales[e >> 4]! * (code(e) - 32));
    expect(Array.from(dequantize('q6_k', block, 256))).toEqual(want);
  });

  it('f32, f16 and bf16', () => {
    const x = Float32Array.from([0, -1.5, 65504, 2 ** -24, 3.140625]);
    expect(dequantize('f32', quantize('f32', x), 5)).toEqual(x);
    expect(dequantize('f16', quantize('f16', x), 5)).toEqual(x);
    expect(Array.from(dequantize('bf16', quantize('bf16', Float32Array.from([1, -3, 1 + 2 ** -8, 1 + 3 * 2 ** -8])), 4))).toEqual([1, -3, 1, 1 + 2 ** -6]);
  });

  it('refuses sizes that are not whole blocks', () => {
    expect(() => dequantize('q8_0', new Uint8Array(34), 33)).toThrow(/do not hold/);
    expect(() => dequantize('q4_k', new Uint8Array(100), 256)).toThrow(/do not hold/);
    expect(() => quantize('q6_k', new Float32Array(100))).toThrow(/whole number of blocks/);
  });
});

describe('reference encoders', () => {
  it('Q8_0 rounds halves away from zero like C roundf', () => {
    const x = new Float32Array(32);
    x[0] = 127; // d = 1
    x[1] = 2.5;
    x[2] = -2.5;
    x[3] = -0.5;
    const b = quantizeQ8_0(x);
    expect([b[2], (b[3]! << 24) >> 24, (b[4]! << 24) >> 24, (b[5]! << 24) >> 24]).toEqual([127, 3, -3, -1]);
  });

  const F16_ULP = 2 ** -10;
  /** the most an f16-stored scale d can be off, subnormals included */
  const f16Err = (d: number): number => d * F16_ULP / 2 + 2 ** -25;
  const stats = (x: Float32Array, from: number, n: number): { amax: number; lo: number; hi: number } => {
    let amax = 0, lo = 0, hi = -Infinity;
    for (let j = from; j < from + n; j++) (amax = Math.max(amax, Math.abs(x[j]!))), (lo = Math.min(lo, x[j]!)), (hi = Math.max(hi, x[j]!));
    return { amax, lo, hi };
  };

  /** bound on |x[j] - dequant(quant(x))[j]|, from the format's step sizes */
  function bound(dtype: DType, x: Float32Array, j: number): number {
    const blk = (n: number): number => Math.floor(j / n) * n;
    switch (dtype) {
      case 'q8_0': {
        const d = stats(x, blk(32), 32).amax / 127;
        return d / 2 + 128 * f16Err(d);
      }
      case 'q4_0': // the code for -max is clamped from 16 to 15: up to one full step
      case 'q5_0': {
        const levels = dtype === 'q4_0' ? 8 : 16;
        const d = stats(x, blk(32), 32).amax / levels;
        return d + levels * f16Err(d);
      }
      case 'q4_k': {
        // offset rounded up to the 6-bit grid of dmin, scale rounded up to the grid of d: half a step
        let maxNeg = 0, maxNeed = 0;
        for (let s = blk(256); s < blk(256) + 256; s += 32) {
          const st = stats(x, s, 32);
          maxNeg = Math.max(maxNeg, -st.lo);
        }
        const dmin = (maxNeg / 63) * (1 + F16_ULP) + 2 ** -24;
        for (let s = blk(256); s < blk(256) + 256; s += 32) {
          const st = stats(x, s, 32);
          maxNeed = Math.max(maxNeed, (st.hi - st.lo + dmin) / 15);
        }
        const d = (maxNeed / 63) * (1 + F16_ULP) + 2 ** -24;
        const own = stats(x, blk(32), 32);
        return ((own.hi - own.lo + dmin) / 15 + d) / 2;
      }
      case 'q6_k': {
        const d = (stats(x, blk(256), 256).amax / 31 / 127) * (1 + F16_ULP) + 2 ** -24;
        return (stats(x, blk(16), 16).amax / 31 + d) / 2;
      }
      default:
        return 0;
    }
  }

  const FORMATS: DType[] = ['q8_0', 'q4_0', 'q5_0', 'q4_k', 'q6_k'];
  const rng = new Rng(42);
  const inputs: [string, Float32Array][] = [
    ['uniform', rng.floats(1024, -1, 1)],
    ['normal x 3', Float32Array.from({ length: 1024 }, () => 3 * rng.normal())],
    ['zeros', new Float32Array(512)],
    ['constant', new Float32Array(512).fill(0.75)],
    ['all negative', rng.floats(512, -5, -1)],
    ['one outlier per block', Float32Array.from({ length: 512 }, (_, i) => (i % 97 === 0 ? 40 : rng.uniform(-0.01, 0.01)))],
    ['tiny values', rng.floats(512, -1e-3, 1e-3)],
    ['mixed magnitudes', Float32Array.from({ length: 1024 }, (_, i) => rng.normal() * 10 ** (((i >> 5) % 5) - 2))],
  ];

  for (const dtype of FORMATS) {
    it.each(inputs)(`${dtype} round trip within the format's bound: %s`, (_, x) => {
      const bytes = quantize(dtype, x);
      expect(bytes.length).toBe((x.length / blockFormat(dtype).blockElems) * blockFormat(dtype).blockBytes);
      const y = dequantize(dtype, bytes, x.length);
      let worst = 0;
      for (let j = 0; j < x.length; j++) {
        const err = Math.abs(y[j]! - x[j]!);
        expect(err, `${dtype} element ${j}: ${x[j]} -> ${y[j]}`).toBeLessThanOrEqual(bound(dtype, x, j) * (1 + 1e-6));
        worst = Math.max(worst, err);
      }
      if (x.every((v) => v === 0)) expect(worst).toBe(0);
    });
  }
});

describe("the models' quantized files agree with their F16 files", () => {
  it.each([
    ['tiny-llama3', 'Q4_K_M'],
    ['tiny-llama3', 'Q4_0'],
    ['tiny-qwen3', 'Q8_0'],
    ['tiny-smollm2', 'Q4_K_M'],
  ])('%s %s', async (dir, kind) => {
    const f16 = await openGgufModel(await openFileSource(modelPath(`${dir}/${dir}-F16.gguf`)));
    const q = await openGgufModel(await openFileSource(modelPath(`${dir}/${dir}-${kind}.gguf`)));
    for (const [name, t] of q.tensors) {
      if (t.dtype === 'f32' || name === 'token_embd.weight' || name === 'output.weight') continue;
      const ref = await readTensorF32(f16.tensors.get(name)!);
      const got = await readTensorF32(t);
      // relative RMS error of the whole tensor: ~1/(2*sqrt(3)*levels) of the scale
      let num = 0, den = 0;
      for (let i = 0; i < ref.length; i++) (num += (got[i]! - ref[i]!) ** 2), (den += ref[i]! ** 2);
      const rel = Math.sqrt(num / den);
      const limit = { q8_0: 0.006, q6_k: 0.02, q5_0: 0.05, q4_0: 0.1, q4_k: 0.1 }[t.dtype as 'q8_0'];
      expect(rel, `${name} ${t.dtype}`).toBeLessThan(limit);
      expect(rel, `${name} ${t.dtype} is not a copy`).toBeGreaterThan(limit / 30);
    }
    await Promise.all([f16.close(), q.close()]);
  });
});
