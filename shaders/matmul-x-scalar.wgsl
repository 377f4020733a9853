// Matmul activation reader, any K: element loads, columns past K read as 0.
// Contract: as matmul-x-vec4.wgsl.
@group(0) @binding(X_BINDING) var<storage, read> x: array<act_t>; // [M, K] act_t

fn x_vec4(m: u32, k: u32) -> vec4f {
  let kk = vec4u(k) + vec4u(0u, 1u, 2u, 3u);
  let i = m * params.K + kk;
  let v = vec4f(f32(x[i.x]), f32(x[i.y]), f32(x[i.z]), f32(x[i.w]));
  return select(vec4f(0.0), v, kk < vec4u(params.K));
}
