// KV cache element access, f32 cache. Prelude library of kv-write.wgsl and attention*.wgsl.
// A cache is an array<kv_vec>: one kv_vec holds 4 consecutive head dims.
alias kv_vec = vec4<f32>;

fn kv_unpack(v: kv_vec) -> vec4<f32> {
  return v;
}

fn kv_pack(v: vec4<f32>) -> kv_vec {
  return v;
}

// Reads (attention): one 16-byte load is a chunk of KV_CHUNK dims; kv_chunk_hi is unused here.
alias kv_chunk = vec4<f32>;
const KV_CHUNK: u32 = 4u;

fn kv_chunk_lo(c: kv_chunk) -> vec4<f32> {
  return c;
}

fn kv_chunk_hi(c: kv_chunk) -> vec4<f32> {
  return c;
}
