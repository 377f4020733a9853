// Tensor-core staging reader of x, K a multiple of 4 (after matmul-x-vec4.wgsl, whose `x` it
// reads): x_half4(m, k) = x[m, k..k+3] as f16, converted once (not at all for f16 activations),
// where x_vec4 would widen to f32 and the staging narrow back. Needs `enable f16`.
fn x_half4(m: u32, k: u32) -> vec4<f16> {
  return vec4<f16>(x[(m * params.K + k) >> 2u]);
}
