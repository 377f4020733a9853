// Weight access for Q5_0 tables (GGUF blocks as stored: 22 B per 32 elements: d f16, qh u32,
// qs[16]), element by element: q = nibble as in Q4_0 | (bit j of qh) << 4; weight = d * (q - 16).
// Contract: the kernel defines `const WEIGHTS_BINDING`; the table is whole blocks (true in GGUF).
@group(0) @binding(WEIGHTS_BINDING) var<storage, read> weights: array<u32>; // raw bytes, padded to 4

fn weight_at(i: u32) -> f32 {
  let o = (i >> 5u) * 22u;
  let j = i & 31u;
  let d = unpack2x16float(extractBits(weights[o >> 2u], (o & 2u) * 8u, 16u)).x;
  // qh starts at the even byte o + 2: bit j lies in the 16-bit half at o + 2 + 2 * (j / 16).
  let h = o + 2u + 2u * (j >> 4u);
  let bit = extractBits(weights[h >> 2u], (h & 2u) * 8u + (j & 15u), 1u);
  let b = o + 6u + (j & 15u);
  let q = extractBits(weights[b >> 2u], (b & 3u) * 8u + select(0u, 4u, j >= 16u), 4u) | (bit << 4u);
  return d * (f32(q) - 16.0);
}
