// Stores x quantized per pair of 32-blocks (lib/int8-quant.wgsl's QPair) where the int8-dot GEMV
// over pre-quantized x reads it (lib/gemv-int8-x-pre.wgsl). Shared by shaders/matmul-quantize-x.wgsl
// and the kernels that produce x and quantize it in the same pass (rmsnorm-quant-x.wgsl,
// swiglu-quant-x.wgsl), so that all of them write the same words.
// Contract: the kernel defines `const XQ_BINDING` and `const XS_BINDING` (its binding numbers).
//   xq [M, K/64, 4] vec4<u32>  per pair of blocks (pair_cols) 16 words of 4 int8: block A in the
//                              format's grouping (xa_groups), block B in column order
//   xs [M, K/64] vec4<u32>     per pair (dA, dB) as f32 bits, the format's offset terms
//                              (pair_offsets: oA, oB) as i32 bits
@group(0) @binding(XQ_BINDING) var<storage, read_write> xq_out: array<vec4u>;
@group(0) @binding(XS_BINDING) var<storage, read_write> xs_out: array<vec4u>;

// Pair p of row m, stored at i = m * K/64 + p.
fn store_pair(i: u32, q: QPair) {
  let qa = q.a;
  let qb = q.b;
  xq_out[i * 4u] = vec4u(qa.w[0], qa.w[1], qa.w[2], qa.w[3]);
  xq_out[i * 4u + 1u] = vec4u(qa.w[4], qa.w[5], qa.w[6], qa.w[7]);
  xq_out[i * 4u + 2u] = vec4u(qb.w[0], qb.w[1], qb.w[2], qb.w[3]);
  xq_out[i * 4u + 3u] = vec4u(qb.w[4], qb.w[5], qb.w[6], qb.w[7]);
  let o = pair_offsets(q);
  xs_out[i] = vec4u(bitcast<u32>(qa.d), bitcast<u32>(qb.d), bitcast<u32>(o.x), bitcast<u32>(o.y));
}
