// x for the int8-dot GEMV, quantized inside the kernel (one row of x: no separate pass needed).
// Contract: after matmul-x-vec4.wgsl (x_vec4), int8-quant.wgsl and the format's grouping
// library (xa_groups, pair_offsets); fills the kernel's private xq / xd / xo (see
// matmul-gemv-int8.wgsl) for the pass at row m0, invocation `idx`.
fn x_fill(m0: u32, idx: u32) {
  let pairs = params.K / 64u;
  for (var i = 0u; i < PL; i++) {
    let p = idx + i * WG;
    for (var j = 0u; j < MB; j++) {
      let m = min(m0 + j, params.M - 1u);
      let k0 = min(p, pairs - 1u) * 64u;
      let live = p < pairs && m0 + j < params.M;
      let s = i * MB + j;
      let q = quant_pair(m, k0, live);
      let qa = q.a;
      let qb = q.b;
      for (var t = 0u; t < 8u; t++) {
        xq[s * 16u + t] = qa.w[t];
        xq[s * 16u + 8u + t] = qb.w[t];
      }
      xd[s] = vec2f(qa.d, qb.d);
      xo[s] = pair_offsets(vec2i(qa.sum, qb.sum));
    }
  }
}
