// Matmul weight reader: GGUF Q6_K blocks.
// Block (210 B / 256 weights): ql[128] (low 4 bits) | qh[64] (high 2 bits) | scales[16] i8 | d f16.
// Half n (128 weights) uses ql[64n..], qh[32n..]; for l < 32 its weights l, l+32, l+64, l+96 are
// (ql[l] lo, qh[l] bits 0-1), (ql[l+32] lo, bits 2-3), (ql[l] hi, bits 4-5), (ql[l+32] hi, bits 6-7);
// weight e of the block = d * scales[e / 16] * (q - 32).
// Interface and contract: see dequant-q4_0.wgsl (K a multiple of 256). Needs dequant-bytes.wgsl.
@group(0) @binding(W_BINDING) var<storage, read> w_data: array<u32>; // [N * K/256 * 210] bytes

fn q6_k_block(row: u32, b: u32) -> u32 {
  return (row * (params.K >> 8u) + b) * 210u;
}

// 4 weights of the block at byte o: low nibbles (or high, hi_nib) of the 4 ql bytes at o+qlo,
// 2 high bits at bit `qsh` of the 4 qh bytes at o+qho, scale index si.
fn q6_k_quad(o: u32, ql: u32, hi_nib: bool, qh: u32, qsh: u32, si: u32) -> vec4f {
  let low = select(wb_lo_nibbles(ql), wb_hi_nibbles(ql), hi_nib);
  let high = ((vec4u(qh) >> (vec4u(0u, 8u, 16u, 24u) + qsh)) & vec4u(3u)) << vec4u(4u);
  let scale = wb_f16(o + 208u) * f32(wb_i8(o + 192u + si));
  return scale * (vec4f(low | high) - 32.0);
}

fn w_pack(row: u32, p: u32) -> mat2x4f {
  let o = q6_k_block(row, p >> 5u);
  let t = p & 31u;
  let n = t >> 4u;
  let tt = t & 15u;      // ql bytes 4tt.. of half n: weights 128n+4tt.. (lo) and +64 (hi)
  let e = 128u * n + 4u * tt;
  let ql = wb_u32(o + 64u * n + 4u * tt);
  let qh = wb_u32(o + 128u + 32u * n + 4u * (tt & 7u));
  let qsh = select(0u, 2u, tt >= 8u);
  return mat2x4f(q6_k_quad(o, ql, false, qh, qsh, e >> 4u), q6_k_quad(o, ql, true, qh, qsh + 4u, (e + 64u) >> 4u));
}

fn w_pack_k(p: u32) -> vec2u {
  let t = p & 31u;
  let k = (p >> 5u) * 256u + (t >> 4u) * 128u + (t & 15u) * 4u;
  return vec2u(k, k + 64u);
}

fn w_quad(row: u32, q: u32) -> vec4f {
  let o = q6_k_block(row, q >> 6u);
  let e = (q & 63u) * 4u;  // first weight within the block
  let n = e >> 7u;
  let g = (e >> 5u) & 3u;  // which of the 4 runs of 32 in the half
  let l = e & 31u;
  let ql = wb_u32(o + 64u * n + l + 32u * (g & 1u));
  let qh = wb_u32(o + 128u + 32u * n + l);
  return q6_k_quad(o, ql, g >= 2u, qh, 2u * g, e >> 4u);
}

// dot(pack p of the row, x) with the -32 offset and the scales applied once per run of 4
// (GEMV, MB = 1): d*sc * (sum q*x - 32 * sum x). xs = (sum of xa, sum of xb).
fn w_pack_dot(row: u32, p: u32, xa: vec4f, xb: vec4f, xs: vec2f) -> f32 {
  let o = q6_k_block(row, p >> 5u);
  let t = p & 31u;
  let n = t >> 4u;
  let tt = t & 15u;
  let e = 128u * n + 4u * tt;
  let ql = wb_u32(o + 64u * n + 4u * tt);
  let qh = wb_u32(o + 128u + 32u * n + 4u * (tt & 7u));
  let qsh = select(0u, 2u, tt >= 8u);
  let ha = ((vec4u(qh) >> (vec4u(0u, 8u, 16u, 24u) + qsh)) & vec4u(3u)) << vec4u(4u);
  let hb = ((vec4u(qh) >> (vec4u(4u, 12u, 20u, 28u) + qsh)) & vec4u(3u)) << vec4u(4u);
  let d = wb_f16(o + 208u);
  let da = d * f32(wb_i8(o + 192u + (e >> 4u)));
  let db = d * f32(wb_i8(o + 192u + ((e + 64u) >> 4u)));
  return da * (dot(vec4f(wb_lo_nibbles(ql) | ha), xa) - 32.0 * xs.x) + db * (dot(vec4f(wb_hi_nibbles(ql) | hb), xb) - 32.0 * xs.y);
}
