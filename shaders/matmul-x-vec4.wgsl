// Matmul activation reader, K a multiple of 4: rows start 4-element aligned, so vector loads.
// Contract: the kernel defines `const X_BINDING` and `params.K`; prelude: act_t.
// fn x_vec4(m, k) -> vec4f: x[m, k..k+3] (k a multiple of 4, k < K).
@group(0) @binding(X_BINDING) var<storage, read> x: array<vec4<act_t>>; // [M, K] act_t

fn x_vec4(m: u32, k: u32) -> vec4f {
  return vec4f(x[(m * params.K + k) >> 2u]);
}
