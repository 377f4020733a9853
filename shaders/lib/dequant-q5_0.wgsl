// Matmul weight reader: GGUF Q5_0 blocks (Q4_K_M files hold some tensors in this format).
// Block (22 B / 32 weights): d f16 | qh u32 (bit j = 5th bit of weight j) | qs[16] u8;
// weight j = d * ((lo nibble of qs[j] | bit j << 4) - 16), weight j+16 likewise with the high
// nibble and bit j+16.
// Interface and contract: see dequant-q4_0.wgsl (K a multiple of 32). Needs dequant-bytes.wgsl.
@group(0) @binding(W_BINDING) var<storage, read> w_data: array<u32>; // [N * K/32 * 22] bytes

fn q5_0_block(row: u32, b: u32) -> u32 {
  return (row * (params.K >> 5u) + b) * 22u;
}

// 5th bits of weights first..first+3
fn q5_0_high(qh: u32, first: u32) -> vec4u {
  return ((vec4u(qh) >> (vec4u(0u, 1u, 2u, 3u) + first)) & vec4u(1u)) << vec4u(4u);
}

fn w_pack(row: u32, p: u32) -> mat2x4f {
  let o = q5_0_block(row, p >> 2u);
  let d = wb_f16(o);
  let qh = wb_u32(o + 2u);
  let t = (p & 3u) * 4u;
  let q = wb_u32(o + 6u + t);
  let lo = vec4f(wb_lo_nibbles(q) | q5_0_high(qh, t)) - 16.0;
  let hi = vec4f(wb_hi_nibbles(q) | q5_0_high(qh, t + 16u)) - 16.0;
  return mat2x4f(lo * d, hi * d);
}

fn w_pack_k(p: u32) -> vec2u {
  let k = (p >> 2u) * 32u + (p & 3u) * 4u;
  return vec2u(k, k + 16u);
}

fn w_quad(row: u32, q: u32) -> vec4f {
  let o = q5_0_block(row, q >> 3u);
  let j = q & 7u; // weights 4j..4j+3: nibbles of bytes 4(j&3).., 5th bits 4j.. of qh
  let w = wb_u32(o + 6u + (j & 3u) * 4u);
  let nib = (vec4u(w) >> (vec4u(0u, 8u, 16u, 24u) + select(0u, 4u, j >= 4u))) & vec4u(0xfu);
  return (vec4f(nib | q5_0_high(wb_u32(o + 2u), 4u * j)) - 16.0) * wb_f16(o);
}

// dot(pack p of the row, x) with the -16 offset and the scale applied once to the sums
// (GEMV, MB = 1). xs = (sum of xa, sum of xb).
fn w_pack_dot(row: u32, p: u32, xa: vec4f, xb: vec4f, xs: vec2f) -> f32 {
  let o = q5_0_block(row, p >> 2u);
  let qh = wb_u32(o + 2u);
  let t = (p & 3u) * 4u;
  let q = wb_u32(o + 6u + t);
  let lo = vec4f(wb_lo_nibbles(q) | q5_0_high(qh, t));
  let hi = vec4f(wb_hi_nibbles(q) | q5_0_high(qh, t + 16u));
  return wb_f16(o) * (dot(lo, xa) + dot(hi, xb) - 16.0 * (xs.x + xs.y));
}
