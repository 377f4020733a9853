/**
 * CPU reference for the matmul family: y[M, N] = x[M, K] · W[N, K]^T (+ bias[N]).
 * Sums in f64 (the kernels sum in f32 in another order; the tolerance covers the difference),
 * each output rounded as its storage would (`round`). W is given as f32 values: dequantize
 * block formats first with `dequantize` (./dequant.ts), which is ggml-exact.
 */
export function matmulRef(
  x: Float32Array, // [M, K] f32 (f16-valued for f16 activations)
  w: Float32Array, // [N, K] f32 (dequantized weights)
  bias: Float32Array | undefined, // [N] f32
  M: number,
  N: number,
  K: number,
  round: (v: number) => number = Math.fround,
): Float32Array {
  const y = new Float32Array(M * N); // [M, N]
  for (let m = 0; m < M; m++) {
    const xo = m * K;
    for (let n = 0; n < N; n++) {
      const wo = n * K;
      let s = 0;
      for (let k = 0; k < K; k++) s += x[xo + k]! * w[wo + k]!;
      y[m * N + n] = round(s + (bias ? bias[n]! : 0));
    }
  }
  return y;
}

/** Round half to even (the GPU's float -> integer rounding in the int8 GEMV). */
function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** One 32-block quantized as the int8-dot GEMV does (f32 arithmetic): step d and the 32 q. */
function quantizeBlockQ8(x: Float32Array, at: number): { d: number; q: Int8Array } {
  let amax = 0;
  for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[at + j]!));
  const inv = amax > 0 ? Math.fround(127 / amax) : 0;
  const q = new Int8Array(32);
  for (let j = 0; j < 32; j++) q[j] = roundHalfEven(Math.fround(x[at + j]! * inv));
  return { d: Math.fround(amax / 127), q };
}

/**
 * x as the int8-dot GEMV sees it: per 32-element block of a row, d = max|x| / 127 and
 * q = round(x * (127 / max|x|)) to nearest even, in f32 as the kernel computes them; returns
 * d * q (the value each q stands for). x: [M, K] f32, K a multiple of 32 -> [M, K] f32
 */
export function quantizeRowsQ8(x: Float32Array, M: number, K: number): Float32Array {
  const out = new Float32Array(M * K); // [M, K]
  for (let b = 0; b < (M * K) / 32; b++) {
    const { d, q } = quantizeBlockQ8(x, b * 32);
    for (let j = 0; j < 32; j++) out[b * 32 + j] = d * q[j]!;
  }
  return out;
}

/** Weight formats of the int8-dot GEMV (src/kernels/matmul-gemv-int8.ts). */
export type Int8Format = 'q4_0' | 'q8_0' | 'q6_k';

/**
 * Column order of block A's quantized x in the int8-dot GEMV's words (shaders/lib/int8-groups-*):
 * word t holds columns order[4t .. 4t+3], first in the low byte. Block B is in column order.
 */
export function int8GroupOrder(format: Int8Format): number[] {
  const order: number[] = [];
  if (format === 'q6_k') {
    for (let c = 0; c < 32; c++) order.push(c);
  } else if (format === 'q8_0') {
    order.push(0, 1, 30, 31);
    for (let t = 1; t < 8; t++) order.push(4 * t - 2, 4 * t - 1, 4 * t, 4 * t + 1);
  } else {
    for (const h of [0, 16]) {
      order.push(h, h + 1, h + 14, h + 15);
      for (let t = 1; t < 4; t++) order.push(h + 4 * t - 2, h + 4 * t - 1, h + 4 * t, h + 4 * t + 1);
    }
  }
  return order;
}

/**
 * First columns of blocks A and B of pair p of a row (pair_cols in shaders/lib/int8-groups-*):
 * Q4_0/Q8_0 the 64 columns from 64p; Q6_K the two runs of 32 that one run of ql bytes holds
 * (block p / 4, half (p / 2) % 2, run p % 2: columns 128h + 32g and 64 further).
 */
export function int8PairCols(format: Int8Format, p: number): [number, number] {
  if (format !== 'q6_k') return [64 * p, 64 * p + 32];
  const k = 256 * (p >> 2) + 128 * ((p >> 1) & 1) + 32 * (p & 1);
  return [k, k + 64];
}

/** The offset term the GEMV reads with a block's quantized x (pair_offsets in int8-groups-*). */
function int8Offset(format: Int8Format, q: Int8Array): number {
  let sum = 0;
  for (const v of q) sum += v;
  if (format === 'q4_0') return 8 * sum; // the nibbles' -8
  if (format === 'q8_0') return 0;
  // Q6_K's -32 under a scale per 16 columns: the sums of the two halves as i16 (low, high)
  let lo = 0;
  for (let j = 0; j < 16; j++) lo += q[j]!;
  return (lo & 0xffff) | ((sum - lo) << 16);
}

/**
 * x quantized and packed as shaders/matmul-quantize-x.wgsl writes it: per row m and pair of
 * blocks p (i = m * K/64 + p; blocks at int8PairCols), 16 words of 4 int8 (xq[16i ..]) and
 * (dA, dB, oA, oB) as f32 / i32 bits (xs[4i ..]); o is int8Offset's (Q4_0: 8 * sum q, its
 * nibbles' -8; Q8_0: 0; Q6_K: the sums of each 16 columns as two i16).
 * x: [M, K] f32, K a multiple of 64 (256 for Q6_K) -> xq [M * K/64 * 16] u32, xs [M * K/64 * 4] u32
 */
export function packRowsQ8(x: Float32Array, M: number, K: number, format: Int8Format): { xq: Uint32Array; xs: Uint32Array } {
  const pairs = (M * K) / 64;
  const xq = new Uint32Array(pairs * 16);
  const xs = new Uint32Array(pairs * 4);
  const f = new Float32Array(1);
  const fbits = new Uint32Array(f.buffer);
  const orderA = int8GroupOrder(format);
  for (let i = 0; i < pairs; i++) {
    const m = Math.floor(i / (K / 64));
    const cols = int8PairCols(format, i % (K / 64));
    for (let h = 0; h < 2; h++) {
      const { d, q } = quantizeBlockQ8(x, m * K + cols[h]!);
      for (let t = 0; t < 8; t++) {
        let w = 0;
        for (let b = 0; b < 4; b++) w |= (q[h === 0 ? orderA[4 * t + b]! : 4 * t + b]! & 0xff) << (8 * b);
        xq[i * 16 + h * 8 + t] = w >>> 0;
      }
      f[0] = d;
      xs[i * 4 + h] = fbits[0]!;
      xs[i * 4 + 2 + h] = int8Offset(format, q) >>> 0;
    }
  }
  return { xq, xs };
}
