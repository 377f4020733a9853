// Tensor-core staging reader of x for any K (after matmul-x-scalar.wgsl): x_vec4 narrowed to f16.
// Needs `enable f16`.
fn x_half4(m: u32, k: u32) -> vec4<f16> {
  return vec4<f16>(x_vec4(m, k));
}
