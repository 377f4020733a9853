// KV cache element access, f32 cache. Prelude library of kv-write.wgsl and attention*.wgsl.
// A cache is an array<kv_vec>: one kv_vec holds 4 consecutive head dims.
alias kv_vec = vec4<f32>;

fn kv_unpack(v: kv_vec) -> vec4<f32> {
  return v;
}

fn kv_pack(v: vec4<f32>) -> kv_vec {
  return v;
}
