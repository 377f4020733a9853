// Weight access for Q4_K tables (GGUF blocks as stored: 144 B per 256 elements: d, dmin f16,
// scales[12], qs[128]), element by element. Element e of a block is in sub-block s = e / 32,
// nibble (s odd: high) of qs[32 * (e / 64) + e % 32]; weight = d * scale[s] * q - dmin * min[s]
// (6-bit scale/min packed as in ggml's get_scale_min_k4).
// Contract: the kernel defines `const WEIGHTS_BINDING`; the table is whole blocks (true in GGUF).
@group(0) @binding(WEIGHTS_BINDING) var<storage, read> weights: array<u32>; // raw bytes, padded to 4

fn weight_at(i: u32) -> f32 {
  let o4 = (i >> 8u) * 36u; // blocks are 4-byte aligned
  let e = i & 255u;
  let s = e >> 5u;
  let dm = unpack2x16float(weights[o4]);
  let sh = (s & 3u) * 8u;
  let a = extractBits(weights[o4 + 1u], sh, 8u); // scales[s & 3]
  let b = extractBits(weights[o4 + 2u], sh, 8u); // scales[(s & 3) + 4]
  let c = extractBits(weights[o4 + 3u], sh, 8u); // scales[(s & 3) + 8]
  let lo = s < 4u;
  let sc = select((c & 0xfu) | ((a >> 6u) << 4u), a & 63u, lo);
  let m = select((c >> 4u) | ((b >> 6u) << 4u), b & 63u, lo);
  let qb = 16u + 32u * (e >> 6u) + (e & 31u);
  let q = extractBits(weights[o4 + (qb >> 2u)], (qb & 3u) * 8u + 4u * (s & 1u), 4u);
  return dm.x * f32(sc) * f32(q) - dm.y * f32(m);
}
