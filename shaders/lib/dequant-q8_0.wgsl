// Matmul weight reader: GGUF Q8_0 blocks.
// Block (34 B / 32 weights): d f16 | qs[32] i8; weight j = d * qs[j].
// Interface and contract: see dequant-q4_0.wgsl (K a multiple of 32). Needs dequant-bytes.wgsl.
@group(0) @binding(W_BINDING) var<storage, read> w_data: array<u32>; // [N * K/32 * 34] bytes

fn q8_0_block(row: u32, b: u32) -> u32 {
  return (row * (params.K >> 5u) + b) * 34u;
}

fn w_pack(row: u32, p: u32) -> mat2x4f {
  let o = q8_0_block(row, p >> 2u);
  let d = wb_f16(o);
  let q = o + 2u + (p & 3u) * 8u;
  return mat2x4f(wb_bytes_i8(wb_u32(q)) * d, wb_bytes_i8(wb_u32(q + 4u)) * d);
}

fn w_pack_k(p: u32) -> vec2u {
  let k = p * 8u;
  return vec2u(k, k + 4u);
}

fn w_quad(row: u32, q: u32) -> vec4f {
  let o = q8_0_block(row, q >> 3u);
  return wb_bytes_i8(wb_u32(o + 2u + (q & 7u) * 4u)) * wb_f16(o);
}

// dot(pack p of the row, x) with the block scale applied once, not per weight (GEMV, MB = 1).
// xs = (sum of xa, sum of xb), unused here.
fn w_pack_dot(row: u32, p: u32, xa: vec4f, xb: vec4f, xs: vec2f) -> f32 {
  let o = q8_0_block(row, p >> 2u);
  let q = o + 2u + (p & 3u) * 8u;
  return wb_f16(o) * (dot(wb_bytes_i8(wb_u32(q)), xa) + dot(wb_bytes_i8(wb_u32(q + 4u)), xb));
}
