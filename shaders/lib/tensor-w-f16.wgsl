// Tensor-core staging reader of f16 W (after dequant-f16.wgsl): the stored halves reinterpreted,
// no conversion. Interface: see tensor-w-any.wgsl. Needs `enable f16`.
fn w_half4(row: u32, q: u32) -> vec4<f16> {
  let v = w_data[row * (params.K >> 2u) + q];
  return vec4<f16>(bitcast<vec2<f16>>(v.x), bitcast<vec2<f16>>(v.y));
}
