// Matmul weight reader: f16 weights stored as u32 pairs, any K (a row may start in the middle of
// a word: element loads, masked past K). Interface and contract: see dequant-q4_0.wgsl.
@group(0) @binding(W_BINDING) var<storage, read> w_data: array<u32>; // [N, K] f16, padded to 4 bytes

fn f16_at(e: u32) -> f32 {
  let pair = unpack2x16float(w_data[e >> 1u]);
  return select(pair.x, pair.y, (e & 1u) == 1u);
}

fn w_quad(row: u32, q: u32) -> vec4f {
  let k = vec4u(4u * q) + vec4u(0u, 1u, 2u, 3u);
  let i = row * params.K + k;
  let v = vec4f(f16_at(i.x), f16_at(i.y), f16_at(i.z), f16_at(i.w));
  return select(vec4f(0.0), v, k < vec4u(params.K));
}

fn w_pack(row: u32, p: u32) -> mat2x4f {
  return mat2x4f(w_quad(row, 2u * p), w_quad(row, 2u * p + 1u));
}

fn w_pack_k(p: u32) -> vec2u {
  return vec2u(8u * p, 8u * p + 4u);
}

// dot(pack p of the row, x) for the GEMV with one row of x per pass: this format has no cheaper
// form than decoding the pack. xs = (sum of xa, sum of xb) (unused here).
fn w_pack_dot(row: u32, p: u32, xa: vec4f, xb: vec4f, xs: vec2f) -> f32 {
  let w = w_pack(row, p);
  return dot(w[0], xa) + dot(w[1], xb);
}
