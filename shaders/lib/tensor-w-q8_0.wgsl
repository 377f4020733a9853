// Tensor-core staging reader of Q8_0 W (after dequant-bytes.wgsl and dequant-q8_0.wgsl), decoded
// in packed f16: a byte with its sign bit flipped (q + 128) OR-ed into the mantissa of 1024.0 is
// the half 1152 + q. q * d rounds once to f16, as w_quad's exact f32 product narrowed does.
// Interface: see tensor-w-any.wgsl. Needs `enable f16`.
fn w_half4(row: u32, q: u32) -> vec4<f16> {
  let o = q8_0_block(row, q >> 3u);
  let t = wb_u32(o + 2u + (q & 7u) * 4u) ^ 0x80808080u;
  let v02 = bitcast<vec2<f16>>((t & 0x00ff00ffu) | 0x64006400u) - vec2<f16>(1152.0); // bytes 0, 2
  let v13 = bitcast<vec2<f16>>(((t >> 8u) & 0x00ff00ffu) | 0x64006400u) - vec2<f16>(1152.0);
  let d = bitcast<vec2<f16>>(w_data[o >> 2u])[(o >> 1u) & 1u];
  return vec4<f16>(v02.x, v13.x, v02.y, v13.y) * d;
}
