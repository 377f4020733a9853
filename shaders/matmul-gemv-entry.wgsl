// Entry points of the decode (GEMV) kernels: matmul-gemv.wgsl, matmul-gemv-pairs.wgsl and
// matmul-gemv-int8.wgsl differ in how a workgroup computes its sums, not in how it stores them.
//   main       y[m, n] = sum
//   main_bias  y[m, n] = sum + bias[n]
// Contract: the kernel defines consts ROWS (rows of W per workgroup), MB (rows of x per pass),
// RM = ROWS * MB, the workgroup size WG (const or override), the bindings y, bias and params
// (M, N), and fn gemv_pass(n0, m0, lane: MmLane) -> f32, which returns to invocation j < RM the
// sum for row m0 + j % MB of x and row n0 + j / MB of W (it may use barriers: it is called in
// control flow uniform over the workgroup).
// Grid: one workgroup per ROWS consecutive rows of W, linear id over x,y.

// (m, n) of invocation j's sum in the pass at (n0, m0); m >= M or n >= N: nothing to store.
fn gemv_slot(n0: u32, m0: u32, j: u32) -> vec2u {
  return vec2u(m0 + j % MB, n0 + j / MB);
}

// Two entry points, not one with a flag: main must not reference `bias` (not bound there).
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, lane: MmLane) {
  let n0 = (wid.x + wid.y * nwg.x) * ROWS;
  if (n0 >= params.N) { return; } // uniform per workgroup: the barriers in gemv_pass stay uniform
  for (var m0 = 0u; m0 < params.M; m0 += MB) {
    let v = gemv_pass(n0, m0, lane);
    let s = gemv_slot(n0, m0, lane.index);
    if (lane.index < RM && s.x < params.M && s.y < params.N) {
      y[s.x * params.N + s.y] = act_t(v);
    }
  }
}

@compute @workgroup_size(WG)
fn main_bias(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, lane: MmLane) {
  let n0 = (wid.x + wid.y * nwg.x) * ROWS;
  if (n0 >= params.N) { return; }
  for (var m0 = 0u; m0 < params.M; m0 += MB) {
    let v = gemv_pass(n0, m0, lane);
    let s = gemv_slot(n0, m0, lane.index);
    if (lane.index < RM && s.x < params.M && s.y < params.N) {
      y[s.x * params.N + s.y] = act_t(v + bias[s.y]);
    }
  }
}
