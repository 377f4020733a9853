// How the two GEMMs (matmul-gemm.wgsl, matmul-tensor.wgsl) map their grid to work.
//
// Tile order: tile_of(wid) is the (n, m) tile of y that workgroup wid computes. With M_FAST = 0
// the grid's x walks the tiles across N; with M_FAST = 1 it walks down M, so the workgroups in
// flight together share one column block of W (read from DRAM about once where W does not fit
// in L2) rather than one row block of x.
//
// Split-K, where M x N alone gives too few workgroups to fill the GPU (e.g. a 1024-wide
// projection of a short prompt): workgroup z of the grid sums the K columns split_k_range(z) =
// [z * KC, min(K, (z + 1) * KC)) and the kernel's main_split entry writes its f32 partial tile
// to part[z, M, N]; the program's second entry point, reduce_split(_bias), adds the SPLIT
// partials of each output in z order (the same order every run), adds the bias and writes y.
// With SPLIT = 1 and KC = K, split_k_range(0) is all of K and the kernel's main entry writes y.
//
// Needs: consts SPLIT and M_FAST (generated), Params { M, N, K, KC }, the kernel's y (binding 3)
// and bias (binding 2). KC is a multiple of the kernel's K step, so no step straddles two slices.
// Generated with them for the kernel's K loop (gemmGridConsts): K_TAIL, 1 where K is not a whole
// number of K steps.
// Binding 6 part [SPLIT, M, N] f32: scratch (the launcher allocates it).
// Grid of the reduction: (ceil(N / 64), M); one invocation per output.

fn tile_of(wid: vec3u) -> vec2u {
  return select(wid.xy, wid.yx, M_FAST == 1u);
}

@group(0) @binding(6) var<storage, read_write> part: array<f32>;

fn split_k_range(z: u32) -> vec2u {
  let b = z * params.KC;
  return vec2u(b, min(params.K, b + params.KC));
}

fn split_sum(m: u32, n: u32) -> f32 {
  let mn = params.M * params.N;
  var s = 0.0;
  for (var z = 0u; z < SPLIT; z++) { s += part[z * mn + m * params.N + n]; }
  return s;
}

@compute @workgroup_size(64)
fn reduce_split(@builtin(global_invocation_id) gid: vec3u) {
  if (gid.x < params.N) { y[gid.y * params.N + gid.x] = act_t(split_sum(gid.y, gid.x)); }
}

@compute @workgroup_size(64)
fn reduce_split_bias(@builtin(global_invocation_id) gid: vec3u) {
  if (gid.x < params.N) { y[gid.y * params.N + gid.x] = act_t(split_sum(gid.y, gid.x) + bias[gid.x]); }
}
