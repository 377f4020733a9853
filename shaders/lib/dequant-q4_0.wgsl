// Matmul weight reader: GGUF Q4_0 blocks, dequantized from the raw bytes.
// Block (18 B / 32 weights): d f16 | qs[16] u8; weight j = d * (lo nibble of qs[j] - 8),
// weight j+16 = d * (hi nibble of qs[j] - 8), j < 16.
//
// Interface of every shaders/lib/dequant-<format>.wgsl (matmul weights W [N, K], row n = output n,
// each row K/blockElems consecutive blocks for block formats):
//   w_pack(row, p) -> mat2x4f  pack p (p < ceil(K/8)): 8 weights as two runs of 4 consecutive
//                              columns starting at w_pack_k(p).x and .y; the natural decoding unit
//                              (one 4-byte load gives both runs here). The GEMV reads these.
//   w_pack_k(p) -> vec2u
//   w_pack_dot(row, p, xa, xb, xs) -> f32   dot(w_pack(row, p), (xa, xb)) computed the format's
//                              cheapest way (offsets and scales applied to sums; xs = (sum xa,
//                              sum xb)); the GEMV uses it when it reads one row of x per pass.
//   w_quad(row, q) -> vec4f    columns 4q..4q+3 (q < ceil(K/4)); the GEMM tile loaders read these.
// Contract: the kernel defines `const W_BINDING` and a uniform `params` with field K; K is a
// multiple of 32 here. Needs dequant-bytes.wgsl.
@group(0) @binding(W_BINDING) var<storage, read> w_data: array<u32>; // [N * K/32 * 18] bytes

fn q4_0_block(row: u32, b: u32) -> u32 {
  return (row * (params.K >> 5u) + b) * 18u;
}

fn w_pack(row: u32, p: u32) -> mat2x4f {
  let o = q4_0_block(row, p >> 2u);
  let d = wb_f16(o);
  let q = wb_u32(o + 2u + (p & 3u) * 4u);
  return mat2x4f(wb_uint_f(wb_lo_nibbles(q), 8.0) * d, wb_uint_f(wb_hi_nibbles(q), 8.0) * d);
}

fn w_pack_k(p: u32) -> vec2u {
  let k = (p >> 2u) * 32u + (p & 3u) * 4u;
  return vec2u(k, k + 16u);
}

fn w_quad(row: u32, q: u32) -> vec4f {
  let o = q4_0_block(row, q >> 3u);
  let j = q & 7u; // quads 0..3: low nibbles of bytes 4j..; 4..7: high nibbles of bytes 4(j-4)..
  let w = wb_u32(o + 2u + (j & 3u) * 4u);
  let nib = (vec4u(w) >> (vec4u(0u, 8u, 16u, 24u) + select(0u, 4u, j >= 4u))) & vec4u(0xfu);
  return wb_uint_f(nib, 8.0) * wb_f16(o);
}

// dot(pack p of the row, x) for the GEMV with one row of x per pass, in fewer instructions than
// w_pack: the -8 offset and the scale are applied once to the sums: d * (sum q*x - 8 * sum x).
// xs = (sum of xa, sum of xb).
fn w_pack_dot(row: u32, p: u32, xa: vec4f, xb: vec4f, xs: vec2f) -> f32 {
  let o = q4_0_block(row, p >> 2u);
  let q = wb_u32(o + 2u + (p & 3u) * 4u);
  let lo = wb_uint_f(wb_lo_nibbles(q), 0.0);
  let hi = wb_uint_f(wb_hi_nibbles(q), 0.0);
  return wb_f16(o) * (dot(lo, xa) + dot(hi, xb) - 8.0 * (xs.x + xs.y));
}
