// x for the int8-dot GEMV, quantized inside the kernel (one row of x: no separate pass needed).
// Contract: after matmul-x-vec4.wgsl (x_vec4), int8-quant.wgsl and the format's grouping
// library (pair_cols, xa_groups, pair_offsets); x_slot(s, m, p, live) fills slot s of the kernel's private
// xq / xd / xo (see matmul-gemv-int8.wgsl) with row m, pair p of x (both in range) quantized;
// live == false: d = 0.
fn x_slot(s: u32, m: u32, p: u32, live: bool) {
  let q = quant_pair(m, p, live);
  for (var t = 0u; t < 8u; t++) {
    xq[s * 16u + t] = q.a.w[t];
    xq[s * 16u + 8u + t] = q.b.w[t];
  }
  xd[s] = vec2f(q.a.d, q.b.d);
  xo[s] = pair_offsets(q);
}
