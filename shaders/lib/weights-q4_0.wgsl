// Weight access for Q4_0 tables (GGUF blocks as stored: 18 B per 32 elements: d f16, qs[16]),
// element by element: element j < 16 of a block is the low nibble of qs[j], j >= 16 the high
// nibble of qs[j - 16]; weight = d * (q - 8).
// Contract: the kernel defines `const WEIGHTS_BINDING`; the table is whole blocks (true in GGUF).
@group(0) @binding(WEIGHTS_BINDING) var<storage, read> weights: array<u32>; // raw bytes, padded to 4

fn weight_at(i: u32) -> f32 {
  let o = (i >> 5u) * 18u;
  let j = i & 31u;
  let d = unpack2x16float(extractBits(weights[o >> 2u], (o & 2u) * 8u, 16u)).x;
  let b = o + 2u + (j & 15u);
  let q = extractBits(weights[b >> 2u], (b & 3u) * 8u + select(0u, 4u, j >= 16u), 4u);
  return d * (f32(q) - 8.0);
}
