// Int8-dot GEMV pair reader, GGUF Q8_0 (block: d f16 | qs[32] i8; weight j = d * qs[j]), for
// shaders/matmul-gemv-int8.wgsl. Interface: see gemv-int8-q4_0.wgsl.
// A pair of Q8_0 blocks is 68 bytes: words 0..8 hold block A (d, then qs from byte 2: word j
// holds qs[4j-2 .. 4j+1]), words 8..16 block B (d in the high half of word 8, qs in words 9..16).

const PW = 17u;

fn pair_dot_i8(wp: WPair, i: u32) -> vec2i {
  let b = i * 16u;
  var sa = dot4I8Packed((wp[0] >> 16u) | (wp[8] << 16u), xq[b]);
  var sb = 0i;
  for (var j = 1u; j < 8u; j++) { sa += dot4I8Packed(wp[j], xq[b + j]); }
  for (var j = 0u; j < 8u; j++) { sb += dot4I8Packed(wp[9u + j], xq[b + 8u + j]); }
  return vec2i(sa, sb);
}

fn pair_scales(wp: WPair) -> vec2f {
  return unpack2x16float((wp[8] & 0xffff0000u) | (wp[0] & 0xffffu));
}
