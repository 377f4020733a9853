/**
 * Element types of tensors, on the host and on the GPU.
 *
 * Activations are 'f32' or 'f16' (ActDType). Weights may also be stored in GGUF block formats
 * (Q8_0, Q4_0, Q4_K, Q6_K, Q5_0) that are dequantized inside kernels; their sizes are per block.
 */
export type FloatDType = 'f32' | 'f16' | 'bf16';
export type QuantDType = 'q8_0' | 'q4_0' | 'q5_0' | 'q4_k' | 'q6_k';
export type DType = FloatDType | QuantDType;
export type ActDType = 'f32' | 'f16';

export interface BlockFormat {
  /** elements per block */
  blockElems: number;
  /** bytes per block */
  blockBytes: number;
}

const BLOCK_FORMATS: Record<DType, BlockFormat> = {
  f32: { blockElems: 1, blockBytes: 4 },
  f16: { blockElems: 1, blockBytes: 2 },
  bf16: { blockElems: 1, blockBytes: 2 },
  q8_0: { blockElems: 32, blockBytes: 34 },
  q4_0: { blockElems: 32, blockBytes: 18 },
  q5_0: { blockElems: 32, blockBytes: 22 },
  q4_k: { blockElems: 256, blockBytes: 144 },
  q6_k: { blockElems: 256, blockBytes: 210 },
};

export function blockFormat(dtype: DType): BlockFormat {
  return BLOCK_FORMATS[dtype];
}

/** Bytes taken by `numElems` elements of `dtype` (numElems must be a whole number of blocks). */
export function byteSize(dtype: DType, numElems: number): number {
  const f = BLOCK_FORMATS[dtype];
  if (numElems % f.blockElems !== 0) {
    throw new Error(`${numElems} elements is not a whole number of ${dtype} blocks (${f.blockElems})`);
  }
  return (numElems / f.blockElems) * f.blockBytes;
}

export function isQuantized(dtype: DType): dtype is QuantDType {
  return BLOCK_FORMATS[dtype].blockElems > 1;
}

// ---- f16 / bf16 conversion (host side) ----

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Rounds an f32 to the nearest f16 (round-to-nearest-even) and returns its bits. */
export function f32ToF16Bits(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // inf / nan
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow -> inf
  if (e <= 0) {
    if (e < -10) return sign; // underflow -> signed zero
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    let m = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    if (rem > half || (rem === half && (m & 1))) m++;
    return sign | m;
  }
  let m = mant >>> 13;
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (m & 1))) {
    m++;
    if (m === 0x400) {
      m = 0;
      e++;
      if (e >= 0x1f) return sign | 0x7c00;
    }
  }
  return sign | (e << 10) | m;
}

export function f16BitsToF32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >>> 10) & 0x1f;
  const mant = bits & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

export function bf16BitsToF32(bits: number): number {
  u32[0] = (bits & 0xffff) << 16;
  return f32[0]!;
}

export function f32ArrayToF16(src: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = f32ToF16Bits(src[i]!);
  return out;
}

export function f16ArrayToF32(src: Uint16Array): Float32Array {
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = f16BitsToF32(src[i]!);
  return out;
}

/** Rounds every value through f16 and back, as a kernel with f16 storage would see it. */
export function roundToF16(src: Float32Array): Float32Array {
  return f16ArrayToF32(f32ArrayToF16(src));
}

/** Rounds one value as storage of `act` would (f32: fround; f16: through f16 bits). */
export function roundAs(act: ActDType): (v: number) => number {
  return act === 'f16' ? (v) => f16BitsToF32(f32ToF16Bits(v)) : Math.fround;
}
