// Quantizes x per 32-block for the int8-dot GEMV (lib/int8-quant.wgsl's scheme) once per step, so
// that the GEMV's workgroups load the quantized rows (lib/gemv-int8-x-pre.wgsl) instead of each
// quantizing every row of x: with several rows of x that work outweighed the dot products.
//
// Bindings (group 0):
//   0 x      [M, K] act_t               read, through x_vec4 (shaders/matmul-x-vec4.wgsl)
//   1 xq     [M, K/64, 4] vec4<u32>     write: per pair of blocks (pair_cols) 16 words of 4 int8,
//                                       block A in the format's grouping (xa_groups), block B in order
//   2 xs     [M, K/64] vec4<u32>        write: per pair (dA, dB) as f32 bits, the format's
//                                       offset terms (pair_offsets: oA, oB) as i32 bits
//   3 params Params { M, N, K } (N unused)
// Prelude: act_t; Params; const WG (generated); x_vec4; lib/int8-quant.wgsl;
// lib/int8-groups-<format>.wgsl. Contract: K % 64 == 0.
// Grid: one invocation per (row m, pair p), i = m * K/64 + p, linear over x,y.

const X_BINDING = 0u;

@group(0) @binding(1) var<storage, read_write> xq_out: array<vec4u>;
@group(0) @binding(2) var<storage, read_write> xs_out: array<vec4u>;
@group(0) @binding(3) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let pairs = params.K / 64u;
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.M * pairs) { return; }
  let q = quant_pair(i / pairs, i % pairs, true);
  let qa = q.a;
  let qb = q.b;
  xq_out[i * 4u] = vec4u(qa.w[0], qa.w[1], qa.w[2], qa.w[3]);
  xq_out[i * 4u + 1u] = vec4u(qa.w[4], qa.w[5], qa.w[6], qa.w[7]);
  xq_out[i * 4u + 2u] = vec4u(qb.w[0], qb.w[1], qb.w[2], qb.w[3]);
  xq_out[i * 4u + 3u] = vec4u(qb.w[4], qb.w[5], qb.w[6], qb.w[7]);
  let o = pair_offsets(q);
  xs_out[i] = vec4u(bitcast<u32>(qa.d), bitcast<u32>(qb.d), bitcast<u32>(o.x), bitcast<u32>(o.y));
}
