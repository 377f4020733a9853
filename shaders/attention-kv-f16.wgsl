// KV cache element access, f16 cache. Prelude library of kv-write.wgsl and attention*.wgsl.
// The f16 values are stored as pairs in u32 words and converted with pack2x16float /
// unpack2x16float (core WGSL), so an f16 cache halves memory and bandwidth on every adapter,
// with or without `shader-f16`; one kv_vec (8 bytes) holds 4 consecutive head dims.
alias kv_vec = vec2<u32>;

fn kv_unpack(v: kv_vec) -> vec4<f32> {
  return vec4<f32>(unpack2x16float(v.x), unpack2x16float(v.y));
}

fn kv_pack(v: vec4<f32>) -> kv_vec {
  return vec2<u32>(pack2x16float(v.xy), pack2x16float(v.zw));
}

// Reads (attention): one 16-byte load is a chunk of KV_CHUNK = 8 dims (wider loads than kv_vec:
// fewer load instructions and more bytes in flight per invocation).
alias kv_chunk = vec4<u32>;
const KV_CHUNK: u32 = 8u;

fn kv_chunk_lo(c: kv_chunk) -> vec4<f32> {
  return vec4<f32>(unpack2x16float(c.x), unpack2x16float(c.y));
}

fn kv_chunk_hi(c: kv_chunk) -> vec4<f32> {
  return vec4<f32>(unpack2x16float(c.z), unpack2x16float(c.w));
}
