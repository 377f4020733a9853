// Tensor-core staging reader of f16 W with K a multiple of 8, in units of two quads: each unit one
// 16-byte load of the stored halves, no conversion (tensor-w-f16.wgsl loads 8 bytes per quad).
// Declares w_data itself (instead of dequant-f16.wgsl), 8 halves per element. Staging units:
// interface in tensor-w-units.wgsl. Contract: the kernel defines `const W_BINDING` and a uniform
// `params` with field K. Needs `enable f16`.
@group(0) @binding(W_BINDING) var<storage, read> w_data: array<vec4<u32>>; // [N, K/8]: 8 halves each

const W_UNIT_QUADS: u32 = 2u;

fn w_unit_quad(u: u32, e: u32) -> u32 {
  return 2u * u + e;
}

fn w_unit(row: u32, u: u32) -> array<vec4<f16>, W_UNIT_QUADS> {
  let v = w_data[row * (params.K >> 3u) + u];
  return array<vec4<f16>, W_UNIT_QUADS>(bitcast<vec4<f16>>(v.xy), bitcast<vec4<f16>>(v.zw));
}
