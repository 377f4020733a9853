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

/**
 * x as the int8-dot GEMV sees it: per 32-element block of a row, d = max|x| / 127 and
 * q = round(x * (127 / max|x|)) to nearest even, in f32 as the kernel computes them; returns
 * d * q (the value each q stands for). x: [M, K] f32, K a multiple of 32 -> [M, K] f32
 */
export function quantizeRowsQ8(x: Float32Array, M: number, K: number): Float32Array {
  const out = new Float32Array(M * K); // [M, K]
  for (let b = 0; b < (M * K) / 32; b++) {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[b * 32 + j]!));
    const inv = amax > 0 ? Math.fround(127 / amax) : 0;
    const d = Math.fround(amax / 127);
    for (let j = 0; j < 32; j++) out[b * 32 + j] = d * roundHalfEven(Math.fround(x[b * 32 + j]! * inv));
  }
  return out;
}
