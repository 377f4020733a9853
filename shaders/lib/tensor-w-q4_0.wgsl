// Tensor-core staging reader of Q4_0 W (after dequant-bytes.wgsl and dequant-q4_0.wgsl), decoded
// in packed f16: a byte b OR-ed into the mantissa of 1024.0 (0x6400) is the half 1024 + b, so
// two weights per 32-bit operation and no int -> float conversions. (q - 8) * d rounds once to
// f16, as w_quad's f32 product (exact) narrowed to f16 does: the same bits.
// Staging units (interface: see tensor-w-units.wgsl): a unit is the two quads that one 4-byte run
// of a block's nibbles holds, columns 4j.. (low nibbles) and 16 + 4j.. (high nibbles) of block
// u / 4, j = u % 4: one unaligned word and the scale per 8 weights, where a quad at a time read
// them per 4 (on the H200 the staging's loads, not the tensor cores, bound the kernel). A K step
// is a whole number of blocks (BK % 32 == 0). Needs `enable f16`.
const W_UNIT_QUADS: u32 = 2u;

fn w_unit_quad(u: u32, e: u32) -> u32 {
  return (u >> 2u) * 8u + (u & 3u) + 4u * e;
}

// 4 nibbles (one per byte of t) as halves (nibble - 8) * d
fn q4_0_halves(t: u32, d: f16) -> vec4<f16> {
  let v02 = bitcast<vec2<f16>>((t & 0x00ff00ffu) | 0x64006400u) - vec2<f16>(1032.0); // bytes 0, 2
  let v13 = bitcast<vec2<f16>>(((t >> 8u) & 0x00ff00ffu) | 0x64006400u) - vec2<f16>(1032.0);
  return vec4<f16>(v02.x, v13.x, v02.y, v13.y) * d;
}

fn w_unit(row: u32, u: u32) -> array<vec4<f16>, W_UNIT_QUADS> {
  let o = q4_0_block(row, u >> 2u);
  let t = wb_u32(o + 2u + (u & 3u) * 4u);
  let d = bitcast<vec2<f16>>(w_data[o >> 2u])[(o >> 1u) & 1u];
  return array<vec4<f16>, W_UNIT_QUADS>(q4_0_halves(t & 0x0f0f0f0fu, d), q4_0_halves((t >> 4u) & 0x0f0f0f0fu, d));
}
