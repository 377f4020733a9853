// Int8-dot GEMV grouping of x for GGUF Q4_0 (see gemv-int8-q4_0.wgsl for the block layout):
// how block A's quantized x is grouped into words, and the offset term of the block sums.
// Interface of every shaders/lib/int8-groups-<format>.wgsl: see gemv-int8-q4_0.wgsl.
// Word j of block A holds low nibbles for columns (4j-2 .. 4j+1) and high nibbles for the same
// + 16; word 0 is joined from the halves of words 0 and 4: columns (0, 1, 14, 15) / +16.
// Pair p: the 64 columns of two consecutive blocks of the row.
fn pair_cols(p: u32) -> vec2u {
  return vec2u(64u * p, 64u * p + 32u);
}

fn xa_groups(a: array<vec4f, 8>) -> array<vec4f, 8> {
  return array<vec4f, 8>(
    vec4f(a[0].xy, a[3].zw), vec4f(a[0].zw, a[1].xy), vec4f(a[1].zw, a[2].xy), vec4f(a[2].zw, a[3].xy),
    vec4f(a[4].xy, a[7].zw), vec4f(a[4].zw, a[5].xy), vec4f(a[5].zw, a[6].xy), vec4f(a[6].zw, a[7].xy));
}

fn pair_offsets(q: QPair) -> vec2i {
  return 8i * vec2i(q.a.sum, q.b.sum);
}
