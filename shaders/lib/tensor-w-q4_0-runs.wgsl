// Tensor-core staging reader of Q4_0 W (after dequant-bytes.wgsl, dequant-q4_0.wgsl and
// tensor-q4_0-halves.wgsl, whose q4_0_halves decodes the nibbles in packed f16).
// The reader for few rows of x (tensorHalfLibs): there the W loads bound the kernel, and units
// of 16 weights spread them over twice the invocations of tensor-w-q4_0.wgsl's whole blocks (H200,
// Llama-3.1-8B Q4_0 at M = 32: 8-10% faster).
// Staging units (interface: see tensor-w-units.wgsl): a unit is the four quads that one 8-byte
// run of a block's nibbles holds: columns 8h.. and 16 + 8h.. (8 each, low and high nibbles) of
// block u / 2, h = u % 2. Two or three aligned words and the scale per 16 weights, where a quad
// at a time took three loads per 4 (on the H200 the staging's loads, not the tensor cores, bound
// the kernel). A K step is a whole number of blocks (BK % 32 == 0). Needs `enable f16`.
const W_UNIT_QUADS: u32 = 4u;

fn w_unit_quad(u: u32, e: u32) -> u32 {
  return (u >> 1u) * 8u + (u & 1u) * 2u + (e & 1u) + (e >> 1u) * 4u;
}

fn w_unit(row: u32, u: u32) -> array<vec4<f16>, W_UNIT_QUADS> {
  let o = q4_0_block(row, u >> 1u);
  // the 8 bytes at p (even): two words, shifted together from three when p is not word-aligned
  let p = o + 2u + (u & 1u) * 8u;
  let i = p >> 2u;
  let s = (p & 3u) * 8u;
  let a = w_data[i];
  let b = w_data[i + 1u];
  let c = w_data[i + 2u];
  let t0 = select((a >> s) | (b << (32u - s)), a, s == 0u);
  let t1 = select((b >> s) | (c << (32u - s)), b, s == 0u);
  let d = bitcast<vec2<f16>>(w_data[o >> 2u])[(o >> 1u) & 1u];
  let m = 0x0f0f0f0fu;
  return array<vec4<f16>, W_UNIT_QUADS>(q4_0_halves(t0 & m, d), q4_0_halves(t1 & m, d), q4_0_halves((t0 >> 4u) & m, d), q4_0_halves((t1 >> 4u) & m, d));
}
