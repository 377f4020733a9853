// Weight access for Q6_K tables (GGUF blocks as stored: 210 B per 256 elements: ql[128],
// qh[64], scales[16] i8, d f16), element by element. Element e of a block: half n = e / 128,
// run g = (e % 128) / 32, l = e % 32: low 4 bits = nibble (g >= 2: high) of ql[64n + l + 32(g&1)],
// high 2 bits = bits 2g.. of qh[32n + l]; weight = d * scales[e / 16] * (q - 32).
// Contract: the kernel defines `const WEIGHTS_BINDING`; the table is whole blocks (true in GGUF).
@group(0) @binding(WEIGHTS_BINDING) var<storage, read> weights: array<u32>; // raw bytes, padded to 4

fn wq6_byte(o: u32) -> u32 {
  return extractBits(weights[o >> 2u], (o & 3u) * 8u, 8u);
}

fn weight_at(i: u32) -> f32 {
  let o = (i >> 8u) * 210u;
  let e = i & 255u;
  let n = e >> 7u;
  let g = (e >> 5u) & 3u;
  let l = e & 31u;
  let ql = wq6_byte(o + 64u * n + l + 32u * (g & 1u));
  let qh = wq6_byte(o + 128u + 32u * n + l);
  let q = extractBits(ql, 4u * (g >> 1u), 4u) | (extractBits(qh, 2u * g, 2u) << 4u);
  let sb = o + 192u + (e >> 4u);
  let sc = extractBits(bitcast<i32>(weights[sb >> 2u]), (sb & 3u) * 8u, 8u);
  let db = o + 208u;
  let d = unpack2x16float(extractBits(weights[db >> 2u], (db & 2u) * 8u, 16u)).x;
  return d * f32(sc) * (f32(q) - 32.0);
}
