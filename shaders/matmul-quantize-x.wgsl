// Quantizes x per 32-block for the int8-dot GEMV (lib/int8-quant.wgsl's scheme) once per step, so
// that the GEMV's workgroups load the quantized rows (lib/gemv-int8-x-pre.wgsl) instead of each
// quantizing every row of x: with several rows of x that work outweighed the dot products.
// Where the kernel that produces x can write the same words itself (rmsnorm-quant-x.wgsl,
// swiglu-quant-x.wgsl), the model runs that instead and skips this pass.
//
// Bindings (group 0):
//   0 x      [M, K] act_t               read, through x_vec4 (shaders/matmul-x-vec4.wgsl)
//   1 xq     [M, K/64, 4] vec4<u32>     write: per pair of blocks (pair_cols) 16 words of 4 int8,
//                                       block A in the format's grouping (xa_groups), block B in order
//   2 xs     [M, K/64] vec4<u32>        write: per pair (dA, dB) as f32 bits, the format's
//                                       offset terms (pair_offsets: oA, oB) as i32 bits
//   3 params Params { M, N, K } (N unused)
// Prelude: act_t; Params; const WG (generated); x_vec4; lib/int8-quant.wgsl;
// lib/int8-groups-<format>.wgsl; lib/int8-store.wgsl. Contract: K % 64 == 0.
// Grid: one invocation per (row m, pair p), i = m * K/64 + p, linear over x,y.
// Tunables: none (WG 64). Precision: f32 (lib/int8-quant.wgsl).

const X_BINDING = 0u;
const XQ_BINDING = 1u;
const XS_BINDING = 2u;

@group(0) @binding(3) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let pairs = params.K / 64u;
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.M * pairs) { return; }
  store_pair(i, quant_pair(i / pairs, i % pairs, true));
}
