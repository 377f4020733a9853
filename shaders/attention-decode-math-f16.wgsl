// Arithmetic of attention-decode.wgsl in f16, for an f16 cache with f16 activations (`enable f16`
// already in the prelude): a chunk's packed halves are reinterpreted, not converted, so a key
// costs no conversion instructions and its products run on packed f16 units. The kernel adds each
// 4-dim q . k and each iteration's p * v sum into f32 (see its Precision note).
// Prelude library; needs attention-kv-f16.wgsl's kv_chunk (4 u32 words = 8 halves).
alias mvec = vec4<f16>;
alias mscalar = f16;

// Dims 4j .. 4j+3 of a chunk.
fn kv_m(c: kv_chunk, j: u32) -> mvec {
  if ((j & 1u) == 1u) { return bitcast<vec4<f16>>(c.zw); }
  return bitcast<vec4<f16>>(c.xy);
}
