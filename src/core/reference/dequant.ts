/**
 * CPU reference for the GGUF block formats: dequantization exactly as ggml's dequantize_row_*
 * (ggml-quants.c) computes it, in f32 arithmetic (Math.fround after each operation, as C floats),
 * plus simple round-to-nearest encoders that tests use to make quantized weights.
 *
 * Block layouts (ggml-common.h), little-endian, `d`/`dmin` are f16:
 *   Q8_0 (34 B / 32):  d, qs[32] i8                         x = d * q
 *   Q4_0 (18 B / 32):  d, qs[16] u8 (lo nibble: x[j], hi: x[j+16])      x = d * (q - 8)
 *   Q5_0 (22 B / 32):  d, qh u32 (bit j: 5th bit of x[j]), qs[16]       x = d * (q - 16)
 *   Q4_K (144 B / 256): d, dmin, scales[12] (8 x 6-bit scale + 8 x 6-bit min), qs[128];
 *                      sub-block s of 32: x = d * sc[s] * q - dmin * m[s], q in 0..15
 *   Q6_K (210 B / 256): ql[128] (low 4 bits), qh[64] (high 2 bits), scales[16] i8, d;
 *                      sub-block of 16: x = d * scales[s] * (q - 32), q in 0..63
 */
import type { DType } from '../dtype.js';
import { bf16BitsToF32, blockFormat, f16BitsToF32, f32ToF16Bits } from '../dtype.js';
import { WgllmError } from '../errors.js';

const fr = Math.fround;
let F16: Float32Array | undefined; // [65536] f32: value of every f16 bit pattern

function f16(bits: number): number {
  if (!F16) {
    F16 = new Float32Array(65536);
    for (let i = 0; i < 65536; i++) F16[i] = f16BitsToF32(i);
  }
  return F16[bits]!;
}

/** ggml's get_scale_min_k4: 6-bit scale and min of sub-block j (0..7) from the 12 packed bytes at `q`. */
function scaleMinK4(j: number, b: Uint8Array, q: number): [number, number] {
  if (j < 4) return [b[q + j]! & 63, b[q + j + 4]! & 63];
  return [(b[q + j + 4]! & 0xf) | ((b[q + j - 4]! >> 6) << 4), (b[q + j + 4]! >> 4) | ((b[q + j]! >> 6) << 4)];
}

/**
 * Dequantizes `numElems` elements of `dtype` stored in `bytes` to f32.
 * bytes: [numElems / blockElems * blockBytes] u8 -> [numElems] f32
 */
export function dequantize(dtype: DType, bytes: Uint8Array, numElems: number): Float32Array {
  const { blockElems, blockBytes } = blockFormat(dtype);
  if (numElems % blockElems !== 0 || bytes.byteLength < (numElems / blockElems) * blockBytes) {
    throw new WgllmError('invalid_argument', `dequantize ${dtype}: ${bytes.byteLength} bytes do not hold ${numElems} elements`);
  }
  const y = new Float32Array(numElems); // [numElems] f32
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const nb = numElems / blockElems;
  switch (dtype) {
    case 'f32':
      for (let i = 0; i < numElems; i++) y[i] = v.getFloat32(4 * i, true);
      break;
    case 'f16':
      for (let i = 0; i < numElems; i++) y[i] = f16(v.getUint16(2 * i, true));
      break;
    case 'bf16':
      for (let i = 0; i < numElems; i++) y[i] = bf16BitsToF32(v.getUint16(2 * i, true));
      break;
    case 'q8_0':
      for (let i = 0; i < nb; i++) {
        const o = i * 34, d = f16(v.getUint16(o, true));
        for (let j = 0; j < 32; j++) y[i * 32 + j] = v.getInt8(o + 2 + j) * d;
      }
      break;
    case 'q4_0':
      for (let i = 0; i < nb; i++) {
        const o = i * 18, d = f16(v.getUint16(o, true));
        for (let j = 0; j < 16; j++) {
          const q = bytes[o + 2 + j]!;
          y[i * 32 + j] = ((q & 0xf) - 8) * d;
          y[i * 32 + j + 16] = ((q >> 4) - 8) * d;
        }
      }
      break;
    case 'q5_0':
      for (let i = 0; i < nb; i++) {
        const o = i * 22, d = f16(v.getUint16(o, true)), qh = v.getUint32(o + 2, true);
        for (let j = 0; j < 16; j++) {
          const q = bytes[o + 6 + j]!;
          const xh0 = ((qh >>> j) << 4) & 0x10;
          const xh1 = (qh >>> (j + 12)) & 0x10;
          y[i * 32 + j] = (((q & 0xf) | xh0) - 16) * d;
          y[i * 32 + j + 16] = (((q >> 4) | xh1) - 16) * d;
        }
      }
      break;
    case 'q4_k':
      for (let i = 0; i < nb; i++) {
        const o = i * 144, d = f16(v.getUint16(o, true)), dmin = f16(v.getUint16(o + 2, true));
        let q = o + 16, out = i * 256;
        for (let j = 0, is = 0; j < 256; j += 64, is += 2) {
          const [sc1, m1] = scaleMinK4(is, bytes, o + 4);
          const [sc2, m2] = scaleMinK4(is + 1, bytes, o + 4);
          const d1 = fr(d * sc1), mm1 = fr(dmin * m1), d2 = fr(d * sc2), mm2 = fr(dmin * m2);
          for (let l = 0; l < 32; l++) y[out++] = fr(d1 * (bytes[q + l]! & 0xf)) - mm1;
          for (let l = 0; l < 32; l++) y[out++] = fr(d2 * (bytes[q + l]! >> 4)) - mm2;
          q += 32;
        }
      }
      break;
    case 'q6_k':
      for (let i = 0; i < nb; i++) {
        const o = i * 210, d = f16(v.getUint16(o + 208, true));
        for (let n = 0; n < 2; n++) {
          const ql = o + 64 * n, qh = o + 128 + 32 * n, sc = o + 192 + 8 * n, out = i * 256 + 128 * n;
          for (let l = 0; l < 32; l++) {
            const is = l >> 4, h = bytes[qh + l]!;
            const q1 = ((bytes[ql + l]! & 0xf) | (((h >> 0) & 3) << 4)) - 32;
            const q2 = ((bytes[ql + l + 32]! & 0xf) | (((h >> 2) & 3) << 4)) - 32;
            const q3 = ((bytes[ql + l]! >> 4) | (((h >> 4) & 3) << 4)) - 32;
            const q4 = ((bytes[ql + l + 32]! >> 4) | (((h >> 6) & 3) << 4)) - 32;
            y[out + l] = fr(d * v.getInt8(sc + is)) * q1;
            y[out + l + 32] = fr(d * v.getInt8(sc + is + 2)) * q2;
            y[out + l + 64] = fr(d * v.getInt8(sc + is + 4)) * q3;
            y[out + l + 96] = fr(d * v.getInt8(sc + is + 6)) * q4;
          }
        }
      }
      break;
  }
  return y;
}

// ---- reference encoders ----

/** C's roundf: halves away from zero (Math.round rounds -2.5 to -2). */
const roundf = (x: number): number => (x < 0 ? -Math.floor(-x + 0.5) : Math.floor(x + 0.5));
/** an f16 no smaller than |x| (so a scale rounded to f16 still covers its range) */
const f16Up = (x: number): number => {
  const b = f32ToF16Bits(x);
  return f16(b) >= x ? b : b + 1;
};

function blocks(x: Float32Array, blockElems: number, blockBytes: number, name: string): Uint8Array {
  if (x.length % blockElems !== 0) {
    throw new WgllmError('invalid_argument', `${name}: ${x.length} elements is not a whole number of blocks of ${blockElems}`);
  }
  return new Uint8Array((x.length / blockElems) * blockBytes);
}

/** ggml quantize_row_q8_0_ref. x: [n] f32 -> [n / 32 * 34] u8 */
export function quantizeQ8_0(x: Float32Array): Uint8Array {
  const out = blocks(x, 32, 34, 'quantizeQ8_0');
  const v = new DataView(out.buffer);
  for (let i = 0; i < x.length / 32; i++) {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[i * 32 + j]!));
    const d = fr(amax / 127), id = d ? fr(1 / d) : 0;
    v.setUint16(i * 34, f32ToF16Bits(d), true);
    for (let j = 0; j < 32; j++) v.setInt8(i * 34 + 2 + j, roundf(fr(x[i * 32 + j]! * id)));
  }
  return out;
}

/** signed value of largest magnitude in x[from, from + n) (ggml's `max` in the *_0 encoders) */
function signedMax(x: Float32Array, from: number, n: number): number {
  let amax = 0, max = 0;
  for (let j = from; j < from + n; j++) if (amax < Math.abs(x[j]!)) (amax = Math.abs(x[j]!)), (max = x[j]!);
  return max;
}

/** ggml quantize_row_q4_0_ref. x: [n] f32 -> [n / 32 * 18] u8 */
export function quantizeQ4_0(x: Float32Array): Uint8Array {
  const out = blocks(x, 32, 18, 'quantizeQ4_0');
  const v = new DataView(out.buffer);
  for (let i = 0; i < x.length / 32; i++) {
    const d = fr(signedMax(x, i * 32, 32) / -8), id = d ? fr(1 / d) : 0;
    v.setUint16(i * 18, f32ToF16Bits(d), true);
    for (let j = 0; j < 16; j++) {
      const xi0 = Math.min(15, Math.trunc(fr(fr(x[i * 32 + j]! * id) + 8.5)));
      const xi1 = Math.min(15, Math.trunc(fr(fr(x[i * 32 + 16 + j]! * id) + 8.5)));
      out[i * 18 + 2 + j] = xi0 | (xi1 << 4);
    }
  }
  return out;
}

/** ggml quantize_row_q5_0_ref. x: [n] f32 -> [n / 32 * 22] u8 */
export function quantizeQ5_0(x: Float32Array): Uint8Array {
  const out = blocks(x, 32, 22, 'quantizeQ5_0');
  const v = new DataView(out.buffer);
  for (let i = 0; i < x.length / 32; i++) {
    const d = fr(signedMax(x, i * 32, 32) / -16), id = d ? fr(1 / d) : 0;
    v.setUint16(i * 22, f32ToF16Bits(d), true);
    let qh = 0;
    for (let j = 0; j < 16; j++) {
      const xi0 = Math.min(31, Math.trunc(fr(fr(x[i * 32 + j]! * id) + 16.5)));
      const xi1 = Math.min(31, Math.trunc(fr(fr(x[i * 32 + 16 + j]! * id) + 16.5)));
      out[i * 22 + 6 + j] = (xi0 & 0xf) | ((xi1 & 0xf) << 4);
      qh |= ((xi0 & 0x10) >> 4) << j;
      qh |= ((xi1 & 0x10) >> 4) << (j + 16);
    }
    v.setUint32(i * 22 + 2, qh >>> 0, true);
  }
  return out;
}

/**
 * A simple valid Q4_K encoder (not ggml's iterative search): per 32-wide sub-block, an offset
 * that covers its minimum and a scale that covers its range, both rounded up to the 6-bit grid.
 * Error per element <= (step of its sub-block) / 2. x: [n] f32 -> [n / 256 * 144] u8
 */
export function quantizeQ4_K(x: Float32Array): Uint8Array {
  const out = blocks(x, 256, 144, 'quantizeQ4_K');
  const v = new DataView(out.buffer);
  for (let i = 0; i < x.length / 256; i++) {
    const o = i * 144, lo: number[] = [], hi: number[] = [];
    for (let s = 0; s < 8; s++) {
      const sub = x.subarray(i * 256 + s * 32, i * 256 + s * 32 + 32);
      lo.push(Math.min(0, ...sub)); // the offset -dmin*m is never positive
      hi.push(Math.max(...sub));
    }
    const dminBits = f16Up(Math.max(...lo.map((l) => -l)) / 63), dmin = f16(dminBits);
    const m = lo.map((l) => (dmin ? Math.min(63, Math.ceil(-l / dmin)) : 0));
    const need = hi.map((h, s) => Math.max(0, h + dmin * m[s]!) / 15);
    const dBits = f16Up(Math.max(...need) / 63), d = f16(dBits);
    const sc = need.map((n) => (d ? Math.min(63, Math.ceil(n / d)) : 0));
    v.setUint16(o, dBits, true);
    v.setUint16(o + 2, dminBits, true);
    for (let j = 0; j < 4; j++) {
      out[o + 4 + j] = sc[j]! | ((sc[j + 4]! >> 4) << 6);
      out[o + 8 + j] = m[j]! | ((m[j + 4]! >> 4) << 6);
      out[o + 12 + j] = (sc[j + 4]! & 0xf) | ((m[j + 4]! & 0xf) << 4);
    }
    const q = (e: number): number => {
      const s = e >> 5, step = fr(d * sc[s]!);
      return step ? Math.max(0, Math.min(15, roundf((x[i * 256 + e]! + fr(dmin * m[s]!)) / step))) : 0;
    };
    for (let c = 0; c < 4; c++) {
      for (let l = 0; l < 32; l++) out[o + 16 + 32 * c + l] = q(64 * c + l) | (q(64 * c + 32 + l) << 4);
    }
  }
  return out;
}

/**
 * A simple valid Q6_K encoder: per 16-wide sub-block a symmetric scale amax/31 (so no code is
 * clamped), rounded up to the int8 grid of the block's f16 `d`.
 * x: [n] f32 -> [n / 256 * 210] u8
 */
export function quantizeQ6_K(x: Float32Array): Uint8Array {
  const out = blocks(x, 256, 210, 'quantizeQ6_K');
  const v = new DataView(out.buffer);
  for (let i = 0; i < x.length / 256; i++) {
    const o = i * 210, need: number[] = [];
    for (let s = 0; s < 16; s++) {
      let amax = 0;
      for (let j = 0; j < 16; j++) amax = Math.max(amax, Math.abs(x[i * 256 + s * 16 + j]!));
      need.push(amax / 31);
    }
    const dBits = f16Up(Math.max(...need) / 127), d = f16(dBits);
    const sc = need.map((n) => (d ? Math.min(127, Math.ceil(n / d)) : 0));
    v.setUint16(o + 208, dBits, true);
    for (let s = 0; s < 16; s++) v.setInt8(o + 192 + s, sc[s]!);
    const q = (e: number): number => {
      const step = fr(d * sc[e >> 4]!);
      return (step ? Math.max(-32, Math.min(31, roundf(x[i * 256 + e]! / step))) : 0) + 32;
    };
    for (let n = 0; n < 2; n++) {
      const ql = o + 64 * n, qh = o + 128 + 32 * n, e = 128 * n;
      for (let l = 0; l < 32; l++) {
        const q1 = q(e + l), q2 = q(e + l + 32), q3 = q(e + l + 64), q4 = q(e + l + 96);
        out[ql + l] = (q1 & 0xf) | ((q3 & 0xf) << 4);
        out[ql + l + 32] = (q2 & 0xf) | ((q4 & 0xf) << 4);
        out[qh + l] = (q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6);
      }
    }
  }
  return out;
}

/** Encodes x: [n] f32 in `dtype` (f32/f16/bf16 little-endian, or a block format). */
export function quantize(dtype: DType, x: Float32Array): Uint8Array {
  switch (dtype) {
    case 'f32':
      return new Uint8Array(Float32Array.from(x).buffer);
    case 'f16': {
      const h = new Uint16Array(x.length); // [n] f16 bits
      for (let i = 0; i < x.length; i++) h[i] = f32ToF16Bits(x[i]!);
      return new Uint8Array(h.buffer);
    }
    case 'bf16': {
      const u = new Uint32Array(Float32Array.from(x).buffer);
      const h = new Uint16Array(x.length); // [n] bf16 bits, round to nearest even (NaN kept quiet)
      for (let i = 0; i < x.length; i++) {
        const b = u[i]!;
        h[i] = (b & 0x7fffffff) > 0x7f800000 ? (b >>> 16) | 0x40 : (b + 0x7fff + ((b >>> 16) & 1)) >>> 16;
      }
      return new Uint8Array(h.buffer);
    }
    case 'q8_0': return quantizeQ8_0(x);
    case 'q4_0': return quantizeQ4_0(x);
    case 'q5_0': return quantizeQ5_0(x);
    case 'q4_k': return quantizeQ4_K(x);
    case 'q6_k': return quantizeQ6_K(x);
  }
}
