// Int8-dot GEMV pair reader, GGUF Q8_0 (block: d f16 | qs[32] i8; weight j = d * qs[j]), for
// shaders/matmul-gemv-int8.wgsl. Interface: see gemv-int8-q4_0.wgsl.
// A pair of Q8_0 blocks is 68 bytes: words 0..8 hold block A (d, then qs from byte 2: word j
// holds qs[4j-2 .. 4j+1]), words 8..16 block B (d in the high half of word 8, qs in words 9..16).
@group(0) @binding(W_BINDING) var<storage, read> w_data: array<u32>;

const PW = 17u;

// Word j of block A holds columns (4j-2 .. 4j+1); word 0 is joined from the halves of words 0
// and 8: columns (0, 1, 30, 31).
fn xa_groups(a: array<vec4f, 8>) -> array<vec4f, 8> {
  return array<vec4f, 8>(
    vec4f(a[0].xy, a[7].zw), vec4f(a[0].zw, a[1].xy), vec4f(a[1].zw, a[2].xy), vec4f(a[2].zw, a[3].xy),
    vec4f(a[3].zw, a[4].xy), vec4f(a[4].zw, a[5].xy), vec4f(a[5].zw, a[6].xy), vec4f(a[6].zw, a[7].xy));
}

fn pair_offsets(sums: vec2i) -> vec2i {
  return vec2i(0i);
}

fn pair_dot_i8(wp: array<u32, PW>, i: u32) -> vec2i {
  let b = i * 16u;
  var sa = dot4I8Packed((wp[0] >> 16u) | (wp[8] << 16u), xq[b]);
  var sb = 0i;
  for (var j = 1u; j < 8u; j++) { sa += dot4I8Packed(wp[j], xq[b + j]); }
  for (var j = 0u; j < 8u; j++) { sb += dot4I8Packed(wp[9u + j], xq[b + 8u + j]); }
  return vec2i(sa, sb);
}

fn pair_scales(wp: array<u32, PW>) -> vec2f {
  return unpack2x16float((wp[8] & 0xffff0000u) | (wp[0] & 0xffffu));
}
