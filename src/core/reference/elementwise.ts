/** CPU references for the small elementwise kernels (SwiGLU, add, embedding gather). */

/** gateUp: [numTokens, 2 * intermediateSize] (gate | up) -> [numTokens, intermediateSize] */
export function swigluRef(
  gateUp: Float32Array,
  numTokens: number,
  intermediateSize: number,
  round: (v: number) => number = Math.fround,
): Float32Array {
  const out = new Float32Array(numTokens * intermediateSize);
  for (let t = 0; t < numTokens; t++) {
    for (let i = 0; i < intermediateSize; i++) {
      const g = gateUp[t * 2 * intermediateSize + i]!;
      const u = gateUp[t * 2 * intermediateSize + intermediateSize + i]!;
      out[t * intermediateSize + i] = round((g / (1 + Math.exp(-g))) * u);
    }
  }
  return out;
}

export function addRef(a: Float32Array, b: Float32Array, round: (v: number) => number = Math.fround): Float32Array {
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = round(a[i]! + b[i]!);
  return out;
}

/**
 * table: [vocabSize, hiddenSize] (already dequantized), ids: [numTokens] -> [numTokens, hiddenSize].
 * Out-of-range ids give a zero row, as the kernel does (ids are validated before a step; this
 * keeps a bad id from ever reading outside the table).
 */
export function embeddingRef(
  table: Float32Array,
  ids: Uint32Array,
  vocabSize: number,
  hiddenSize: number,
  round: (v: number) => number = Math.fround,
): Float32Array {
  const out = new Float32Array(ids.length * hiddenSize);
  for (let t = 0; t < ids.length; t++) {
    const id = ids[t]!;
    if (id >= vocabSize) continue;
    for (let i = 0; i < hiddenSize; i++) out[t * hiddenSize + i] = round(table[id * hiddenSize + i]!);
  }
  return out;
}
