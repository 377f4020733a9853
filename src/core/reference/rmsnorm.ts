/**
 * CPU RMSNorm, the truth the GPU kernel is checked against.
 * x: [numRows, rowLen], weight: [rowLen] -> [numRows, rowLen]. Accumulates in f64.
 * `round` models the activation storage type (identity for f32, f16 rounding for f16).
 */
export function rmsnormRef(
  x: Float32Array,
  weight: Float32Array,
  numRows: number,
  rowLen: number,
  eps: number,
  round: (v: number) => number = Math.fround,
): Float32Array {
  const out = new Float32Array(numRows * rowLen);
  for (let r = 0; r < numRows; r++) {
    const base = r * rowLen;
    let ss = 0;
    for (let i = 0; i < rowLen; i++) ss += x[base + i]! * x[base + i]!;
    const scale = 1 / Math.sqrt(ss / rowLen + eps);
    for (let i = 0; i < rowLen; i++) out[base + i] = round(x[base + i]! * scale * weight[i]!);
  }
  return out;
}

/** residual += x (rounded like the GPU stores it); returns [norm(residual) * weight, residual]. */
export function addRmsnormRef(
  x: Float32Array,
  residual: Float32Array,
  weight: Float32Array,
  numRows: number,
  rowLen: number,
  eps: number,
  round: (v: number) => number = Math.fround,
): { out: Float32Array; residual: Float32Array } {
  const sum = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) sum[i] = round(x[i]! + residual[i]!);
  return { out: rmsnormRef(sum, weight, numRows, rowLen, eps, round), residual: sum };
}

/**
 * Per-head RMSNorm in place-style (returns a copy): rows are `headsPerToken` heads of `rowLen`
 * inside token rows of `tokenStride` elements; elements outside the normalized heads are kept.
 */
export function rmsnormHeadsRef(
  data: Float32Array,
  weight: Float32Array,
  numRows: number,
  rowLen: number,
  headsPerToken: number,
  tokenStride: number,
  eps: number,
  round: (v: number) => number = Math.fround,
  headOffset = 0,
): Float32Array {
  const out = Float32Array.from(data);
  for (let r = 0; r < numRows; r++) {
    const base = headOffset + Math.floor(r / headsPerToken) * tokenStride + (r % headsPerToken) * rowLen;
    const row = rmsnormRef(data.subarray(base, base + rowLen), weight, 1, rowLen, eps, round);
    out.set(row, base);
  }
  return out;
}
