// Matmul weight reader: f32 weights, K a multiple of 4 (rows start 16-byte aligned: vec4 loads).
// Interface and contract: see dequant-q4_0.wgsl. Columns past K read as 0.
@group(0) @binding(W_BINDING) var<storage, read> w_data: array<vec4f>; // [N, K] f32

fn w_quad(row: u32, q: u32) -> vec4f {
  return w_data[row * (params.K >> 2u) + q];
}

fn w_pack(row: u32, p: u32) -> mat2x4f {
  let i = row * (params.K >> 2u) + 2u * p;
  // The second run is past the row when K % 8 == 4 (it would read the next row).
  return mat2x4f(w_data[i], select(vec4f(0.0), w_data[i + 1u], 8u * p + 4u < params.K));
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
