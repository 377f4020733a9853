// Weight access for Q8_0 tables (GGUF blocks as stored: 34 B per 32 elements: d f16, qs[32] i8),
// element by element: weight i = d * qs[i % 32] of block i / 32.
// Contract: the kernel defines `const WEIGHTS_BINDING`; the table is whole blocks (true in GGUF).
@group(0) @binding(WEIGHTS_BINDING) var<storage, read> weights: array<u32>; // raw bytes, padded to 4

fn weight_at(i: u32) -> f32 {
  let o = (i >> 5u) * 34u;
  let d = unpack2x16float(extractBits(weights[o >> 2u], (o & 2u) * 8u, 16u)).x;
  let b = o + 2u + (i & 31u);
  return d * f32(extractBits(bitcast<i32>(weights[b >> 2u]), (b & 3u) * 8u, 8u));
}
