// Arithmetic of attention-decode.wgsl in f32, for any cache dtype: every 4 dims of a K/V chunk
// are unpacked to vec4<f32> (kv_chunk_lo / kv_chunk_hi of the KV library) before they are used.
// Prelude library; needs the KV library's kv_chunk, KV_CHUNK, kv_chunk_lo, kv_chunk_hi.
alias mvec = vec4<f32>;
alias mscalar = f32;

// Dims 4j .. 4j+3 of a chunk (j counts vec4s; an f32 chunk holds one, an f16 chunk two).
fn kv_m(c: kv_chunk, j: u32) -> mvec {
  if (KV_CHUNK == 8u && (j & 1u) == 1u) { return kv_chunk_hi(c); }
  return kv_chunk_lo(c);
}
