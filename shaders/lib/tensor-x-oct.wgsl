// Tensor-core staging reader of f16 x with K a multiple of 8, in units of two quads: each unit
// one 16-byte load (where quads took one 8-byte load each: on the H200 the staging's loads bound
// the kernel). Declares x itself (instead of matmul-x-vec4.wgsl), 8 halves per element.
// Interface of the x staging unit (this file, or tensor-x-units.wgsl):
//   const X_UNIT_QUADS      consecutive quads a unit holds (unit u: quads X_UNIT_QUADS * u + e)
//   x_unit(m, u) -> array<vec4<f16>, X_UNIT_QUADS>   those quads of row m of x as f16
// Contract: the kernel defines `const X_BINDING` and a uniform `params` with field K. Needs `enable f16`.
@group(0) @binding(X_BINDING) var<storage, read> x: array<vec4<u32>>; // [M, K/8]: 8 halves each

const X_UNIT_QUADS: u32 = 2u;

fn x_unit(m: u32, u: u32) -> array<vec4<f16>, X_UNIT_QUADS> {
  let v = x[m * (params.K >> 3u) + u];
  return array<vec4<f16>, X_UNIT_QUADS>(bitcast<vec4<f16>>(v.xy), bitcast<vec4<f16>>(v.zw));
}
