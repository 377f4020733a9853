// Tensor-core staging reader of Q4_0 W (after dequant-bytes.wgsl and dequant-q4_0.wgsl), decoded
// in packed f16: a byte b OR-ed into the mantissa of 1024.0 (0x6400) is the half 1024 + b, so
// two weights per 32-bit operation and no int -> float conversions. (q - 8) * d rounds once to
// f16, as w_quad's f32 product (exact) narrowed to f16 does: the same bits.
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

// 4 nibbles (one per byte of t) as halves (nibble - 8) * d
fn q4_0_halves(t: u32, d: f16) -> vec4<f16> {
  let v02 = bitcast<vec2<f16>>((t & 0x00ff00ffu) | 0x64006400u) - vec2<f16>(1032.0); // bytes 0, 2
  let v13 = bitcast<vec2<f16>>(((t >> 8u) & 0x00ff00ffu) | 0x64006400u) - vec2<f16>(1032.0);
  return vec4<f16>(v02.x, v13.x, v02.y, v13.y) * d;
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
