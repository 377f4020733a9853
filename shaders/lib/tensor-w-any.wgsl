// Tensor-core staging reader of W for formats without a native f16 decoder (after the format's
// dequant-<format>.wgsl): w_half4(row, q) = w_quad(row, q) narrowed to f16. Needs `enable f16`.
// Interface of the quad readers (tensor-w-any/-f16/-q8_0.wgsl, each followed by
// tensor-w-units.wgsl): w_half4(row, q) -> vec4<f16>, columns 4q..4q+3 of row `row`, equal to
// vec4<f16>(w_quad(row, q)) bit for bit.
fn w_half4(row: u32, q: u32) -> vec4<f16> {
  return vec4<f16>(w_quad(row, q));
}
