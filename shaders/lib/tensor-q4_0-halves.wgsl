// Q4_0 nibbles decoded in packed f16, for the tensor-core staging readers of Q4_0 W
// (tensor-w-q4_0.wgsl, tensor-w-q4_0-runs.wgsl): a byte b OR-ed into the mantissa of 1024.0
// (0x6400) is the half 1024 + b, so two weights per 32-bit operation and no int -> float
// conversions. (q - 8) * d rounds once to f16, as w_quad's f32 product (exact) narrowed to f16
// does: the same bits. Needs `enable f16`.

// 4 nibbles (one per byte of t) as halves (nibble - 8) * d
fn q4_0_halves(t: u32, d: f16) -> vec4<f16> {
  let v02 = bitcast<vec2<f16>>((t & 0x00ff00ffu) | 0x64006400u) - vec2<f16>(1032.0); // bytes 0, 2
  let v13 = bitcast<vec2<f16>>(((t >> 8u) & 0x00ff00ffu) | 0x64006400u) - vec2<f16>(1032.0);
  return vec4<f16>(v02.x, v13.x, v02.y, v13.y) * d;
}
