// Int8-dot GEMV grouping of x for GGUF Q6_K (see gemv-int8-q6_k.wgsl for the block layout).
// Interface: see gemv-int8-q4_0.wgsl.
// Pair p of a row is the 64 weights that 32 bytes of a block's ql hold (block p / 4, half
// h = (p / 2) % 2, run g = p % 2): block A = columns 128h + 32g .. +31 of the 256-block (low
// nibbles), block B = the 32 columns 64 further (high nibbles). Both in column order.
fn pair_cols(p: u32) -> vec2u {
  let k = 256u * (p >> 2u) + 128u * ((p >> 1u) & 1u) + 32u * (p & 1u);
  return vec2u(k, k + 64u);
}

fn xa_groups(a: array<vec4f, 8>) -> array<vec4f, 8> {
  return a;
}

// Q6_K's scales change every 16 weights, so its -32 offset needs x's sums per 16 columns: per
// block (sum of q over columns 0..15) in the low 16 bits, (sum over 16..31) in the high 16, each
// as i16 (|sum| <= 16 * 127).
fn q6_k_half_sums(b: QBlock) -> i32 {
  var lo = 0i;
  for (var j = 0u; j < 4u; j++) { lo += dot4I8Packed(b.w[j], 0x01010101u); }
  return (lo & 0xffffi) | ((b.sum - lo) << 16u);
}

fn pair_offsets(q: QPair) -> vec2i {
  return vec2i(q6_k_half_sums(q.a), q6_k_half_sums(q.b));
}
