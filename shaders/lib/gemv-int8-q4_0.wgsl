// Int8-dot GEMV pair reader, GGUF Q4_0 (block: d f16 | qs[16] u8; weight j = d * (lo nibble of
// qs[j] - 8), weight j+16 = d * (hi nibble of qs[j] - 8)), for shaders/matmul-gemv-int8.wgsl.
// Interface of every shaders/lib/gemv-int8-<format>.wgsl:
//   w_data               the raw weight words at W_BINDING
//   const PW             words loaded per pair of blocks (64 weights)
//   WPair                what pair_load keeps of a pair's words
//   pair_load(n, p)      pair p of row n of W
// (w_data, WPair and pair_load: for Q4_0 and Q8_0, the PW words as loaded, from
// gemv-int8-words.wgsl)
//   pair_dot_i8(wp, i)   (block A, block B) integer dot products of the pair with the kernel's
//                        xq slot i, offset terms (xo[i]) applied
//   pair_scales(wp)      per block the weights' scale as f32 (multiplies x's d and the sum)
// and of every shaders/lib/int8-groups-<format>.wgsl (needed by whatever quantizes x for it):
//   pair_cols(p)         the first columns of x of pair p's blocks A and B (each 32 in order)
//   xa_groups(a)         block A's 32 columns of x (a[j] = columns 4j..4j+3) regrouped into the
//                        8 quads that pair_dot_i8 multiplies block A's words with
//   pair_offsets(q)      per block, what pair_dot_i8 needs of the block's quantized x beyond its
//                        words (xo), from the quantized pair q (Q4_0: 8 * sum, for the nibbles' -8)
// A pair of Q4_0 blocks is 36 bytes: words 0..4 hold block A (d, then qs from byte 2: its words
// hold qs[4t-2 .. 4t+1]), words 4..8 block B (d in the high half of word 4, qs in words 5..8).
// Block A's straddling words are multiplied where they lie, with x grouped to match (free:
// it is quantized in that order), instead of being reassembled from two words each.

const PW = 9u;
const NIB = 0x0f0f0f0fu;

// Low nibbles against quad j of the block's x, high nibbles against quad j + 4.
fn q4_word(w: u32, xl: u32, xh: u32) -> i32 {
  return dot4I8Packed(w & NIB, xl) + dot4I8Packed((w >> 4u) & NIB, xh);
}

fn pair_dot_i8(wp: WPair, i: u32) -> vec2i {
  let b = i * 16u;
  var sa = q4_word((wp[0] >> 16u) | (wp[4] << 16u), xq[b], xq[b + 4u]);
  sa += q4_word(wp[1], xq[b + 1u], xq[b + 5u]);
  sa += q4_word(wp[2], xq[b + 2u], xq[b + 6u]);
  sa += q4_word(wp[3], xq[b + 3u], xq[b + 7u]);
  var sb = q4_word(wp[5], xq[b + 8u], xq[b + 12u]);
  sb += q4_word(wp[6], xq[b + 9u], xq[b + 13u]);
  sb += q4_word(wp[7], xq[b + 10u], xq[b + 14u]);
  sb += q4_word(wp[8], xq[b + 11u], xq[b + 15u]);
  return vec2i(sa, sb) - xo[i];
}

fn pair_scales(wp: WPair) -> vec2f {
  return unpack2x16float((wp[4] & 0xffff0000u) | (wp[0] & 0xffffu));
}
