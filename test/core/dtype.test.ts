import { describe, expect, it } from 'vitest';
import { f16BitsToF32, f32ToF16Bits, byteSize, bf16BitsToF32 } from '../../src/core/dtype.js';

describe('f16 conversion', () => {
  it('round-trips exactly representable values', () => {
    for (const v of [0, 1, -1, 0.5, 65504, -65504, 2 ** -14, 2 ** -24, 1.5, 1000.5]) {
      expect(f16BitsToF32(f32ToF16Bits(v))).toBe(v);
    }
  });
  it('rounds to nearest even and saturates to infinity', () => {
    expect(f32ToF16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie -> even (1.0)
    expect(f32ToF16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie -> even (up)
    expect(f32ToF16Bits(70000)).toBe(0x7c00);
    expect(f32ToF16Bits(-70000)).toBe(0xfc00);
    expect(Number.isNaN(f16BitsToF32(f32ToF16Bits(NaN)))).toBe(true);
    expect(f32ToF16Bits(2 ** -26)).toBe(0); // below half the smallest subnormal
  });
  it('decodes bf16', () => {
    expect(bf16BitsToF32(0x3f80)).toBe(1);
    expect(bf16BitsToF32(0xc040)).toBe(-3);
  });
  it('sizes block formats', () => {
    expect(byteSize('q4_0', 64)).toBe(36);
    expect(byteSize('q4_k', 256)).toBe(144);
    expect(() => byteSize('q8_0', 33)).toThrow(/whole number/);
  });
});
