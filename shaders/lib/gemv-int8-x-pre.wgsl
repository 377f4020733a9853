// x for the int8-dot GEMV, already quantized by shaders/matmul-quantize-x.wgsl (several rows of
// x: quantizing them in every workgroup cost more than the dot products saved).
// Bindings: 0 xq [M, K/64, 4] vec4<u32>  the quantized pairs (16 words each, format's grouping)
//           5 xs [M, K/64]    vec4<u32>  per pair (dA, dB as f32 bits, oA, oB as i32 bits)
// Contract: x_slot(s, m, p, live) fills slot s of the kernel's private xq / xd / xo (see
// matmul-gemv-int8.wgsl) with row m, pair p of x (both in range); live == false: d = 0.
@group(0) @binding(0) var<storage, read> xq_in: array<vec4u>;
@group(0) @binding(5) var<storage, read> xs_in: array<vec4u>;

fn x_slot(s: u32, m: u32, p: u32, live: bool) {
  let o = m * (params.K / 64u) + p;
  for (var t = 0u; t < 4u; t++) {
    let v = xq_in[o * 4u + t];
    xq[s * 16u + t * 4u] = v.x;
    xq[s * 16u + t * 4u + 1u] = v.y;
    xq[s * 16u + t * 4u + 2u] = v.z;
    xq[s * 16u + t * 4u + 3u] = v.w;
  }
  let e = xs_in[o];
  xd[s] = select(vec2f(0.0), bitcast<vec2f>(e.xy), live);
  xo[s] = bitcast<vec2i>(e.zw);
}
