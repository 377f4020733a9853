// Tensor-core staging reader of Q4_0 W (after dequant-bytes.wgsl and dequant-q4_0.wgsl), decoded
// in packed f16: a byte b OR-ed into the mantissa of 1024.0 (0x6400) is the half 1024 + b, so
// two weights per 32-bit operation and no int -> float conversions. (q - 8) * d rounds once to
// f16, as w_quad's f32 product (exact) narrowed to f16 does: the same bits. Interface: see
// tensor-w-any.wgsl. Needs `enable f16`.
fn w_half4(row: u32, q: u32) -> vec4<f16> {
  let o = q4_0_block(row, q >> 3u);
  let j = q & 7u; // quads 0..3: low nibbles of bytes 4j..; 4..7: high nibbles of bytes 4(j-4)..
  let t = (wb_u32(o + 2u + (j & 3u) * 4u) >> select(0u, 4u, j >= 4u)) & 0x0f0f0f0fu;
  let v02 = bitcast<vec2<f16>>((t & 0x00ff00ffu) | 0x64006400u) - vec2<f16>(1032.0); // weights 0, 2
  let v13 = bitcast<vec2<f16>>(((t >> 8u) & 0x00ff00ffu) | 0x64006400u) - vec2<f16>(1032.0);
  let d = bitcast<vec2<f16>>(w_data[o >> 2u])[(o >> 1u) & 1u];
  return vec4<f16>(v02.x, v13.x, v02.y, v13.y) * d;
}
