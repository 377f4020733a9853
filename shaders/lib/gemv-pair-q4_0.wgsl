// GEMV pair reader, GGUF Q4_0 (block: d f16 | qs[16] u8; weight j = d * (lo nibble of qs[j] - 8),
// weight j+16 = d * (hi nibble of qs[j] - 8)), for shaders/matmul-gemv-pairs.wgsl.
// Interface of every shaders/lib/gemv-pair-<format>.wgsl:
//   w_data           the raw weight words at W_BINDING ([N * K/32 * blockBytes] bytes, padded to 4)
//   const PW         words in a pair of blocks (64 columns)
//   pair_dot(o, xs)  sum over the 64 columns of W * x for the pair whose PW words start at
//                    w_chunk[o] (block A starts 4-byte aligned, block B right after it);
//                    the kernel's private xr = x at those 64 columns as 16 vec4s, xs = (sum of x over columns 0..31,
//                    over 32..63), computed once by the caller for all rows.
// A pair of Q4_0 blocks is 36 bytes: words 0..4 hold block A (d, then qs from byte 2: its quads
// straddle words), words 4..8 block B (d in the high half of word 4, qs in words 5..8, aligned).
// Block A's straddling quads are decoded where they lie, with x regrouped to match (free:
// registers), instead of being reassembled from two words each.
@group(0) @binding(W_BINDING) var<storage, read> w_data: array<u32>;

const PW = 9u;

// Nibbles as 1 + q/16 (q OR-ed into the top of the mantissa of 1.0: two integer ops per weight,
// no int->float conversion, which is slow on NVIDIA). lo: the low nibbles of bytes 0..3 of w.
fn q4p_lo(w: u32) -> vec4f {
  let v = vec4u(w << 19u, w << 11u, w << 3u, w >> 5u);
  return bitcast<vec4f>((v & vec4u(0x00780000u)) | vec4u(0x3f800000u));
}
fn q4p_hi(w: u32) -> vec4f {
  let v = vec4u(w << 15u, w << 7u, w >> 1u, w >> 9u);
  return bitcast<vec4f>((v & vec4u(0x00780000u)) | vec4u(0x3f800000u));
}
// sum_j (1 + q_j/16) x_j over a word of qs: lo nibbles against xl, hi nibbles against xh.
fn q4p_word(w: u32, xl: vec4f, xh: vec4f) -> f32 {
  return dot(q4p_lo(w), xl) + dot(q4p_hi(w), xh);
}

fn pair_dot(o: u32, xs: vec2f) -> f32 {
  let w0 = w_chunk[o];
  let w4 = w_chunk[o + 4u];
  let d = unpack2x16float((w4 & 0xffff0000u) | (w0 & 0xffffu)); // (dA, dB)
  // Block A: bytes 2..17 hold qs[0..15]. Word 0's high half is qs[0..1], word 4's low half
  // qs[14..15]: joined into one word (columns 0, 1, 14, 15); words 1..3 hold qs[4r-2 .. 4r+1].
  // Every index into xr is a constant, so that xr stays in registers.
  var sa = q4p_word((w0 >> 16u) | (w4 << 16u), vec4f(xr[0].xy, xr[3].zw), vec4f(xr[4].xy, xr[7].zw));
  sa += q4p_word(w_chunk[o + 1u], vec4f(xr[0].zw, xr[1].xy), vec4f(xr[4].zw, xr[5].xy));
  sa += q4p_word(w_chunk[o + 2u], vec4f(xr[1].zw, xr[2].xy), vec4f(xr[5].zw, xr[6].xy));
  sa += q4p_word(w_chunk[o + 3u], vec4f(xr[2].zw, xr[3].xy), vec4f(xr[6].zw, xr[7].xy));
  var sb = q4p_word(w_chunk[o + 5u], xr[8], xr[12]);
  sb += q4p_word(w_chunk[o + 6u], xr[9], xr[13]);
  sb += q4p_word(w_chunk[o + 7u], xr[10], xr[14]);
  sb += q4p_word(w_chunk[o + 8u], xr[11], xr[15]);
  // sum (q - 8) x = 16 * sum (1 + q/16) x - 24 * sum x
  return d.x * (16.0 * sa - 24.0 * xs.x) + d.y * (16.0 * sb - 24.0 * xs.y);
}
