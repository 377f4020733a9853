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
