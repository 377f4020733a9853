// GEMV pair reader, GGUF Q8_0 (block: d f16 | qs[32] i8; weight j = d * qs[j]), for
// shaders/matmul-gemv-pairs.wgsl. Interface: see gemv-pair-q4_0.wgsl.
// A pair of Q8_0 blocks is 68 bytes: words 0..8 hold block A (d, then qs from byte 2: its quads
// straddle words), words 8..16 block B (d in the high half of word 8, qs in words 9..16, aligned).
@group(0) @binding(W_BINDING) var<storage, read> w_data: array<u32>;

const PW = 17u;

// The 4 signed bytes of w as 1 + (q + 128)/256 (sign bit flipped, the byte OR-ed into the top of
// the mantissa of 1.0: no int->float conversion), dotted with xv.
fn q8p_word(w: u32, xv: vec4f) -> f32 {
  let u = w ^ 0x80808080u;
  let v = vec4u(u << 15u, u << 7u, u >> 1u, u >> 9u);
  return dot(bitcast<vec4f>((v & vec4u(0x007f8000u)) | vec4u(0x3f800000u)), xv);
}

fn pair_dot(o: u32, xs: vec2f) -> f32 {
  let w0 = w_chunk[o];
  let w8 = w_chunk[o + 8u];
  let d = unpack2x16float((w8 & 0xffff0000u) | (w0 & 0xffffu)); // (dA, dB)
  // Block A: bytes 2..33 hold qs[0..31]; word 0's high half (qs 0, 1) and word 8's low half
  // (qs 30, 31) joined into one word; words 1..7 hold qs[4r-2 .. 4r+1]. Constant indices only.
  var sa = q8p_word((w0 >> 16u) | (w8 << 16u), vec4f(xr[0].xy, xr[7].zw));
  sa += q8p_word(w_chunk[o + 1u], vec4f(xr[0].zw, xr[1].xy));
  sa += q8p_word(w_chunk[o + 2u], vec4f(xr[1].zw, xr[2].xy));
  sa += q8p_word(w_chunk[o + 3u], vec4f(xr[2].zw, xr[3].xy));
  sa += q8p_word(w_chunk[o + 4u], vec4f(xr[3].zw, xr[4].xy));
  sa += q8p_word(w_chunk[o + 5u], vec4f(xr[4].zw, xr[5].xy));
  sa += q8p_word(w_chunk[o + 6u], vec4f(xr[5].zw, xr[6].xy));
  sa += q8p_word(w_chunk[o + 7u], vec4f(xr[6].zw, xr[7].xy));
  var sb = q8p_word(w_chunk[o + 9u], xr[8]);
  sb += q8p_word(w_chunk[o + 10u], xr[9]);
  sb += q8p_word(w_chunk[o + 11u], xr[10]);
  sb += q8p_word(w_chunk[o + 12u], xr[11]);
  sb += q8p_word(w_chunk[o + 13u], xr[12]);
  sb += q8p_word(w_chunk[o + 14u], xr[13]);
  sb += q8p_word(w_chunk[o + 15u], xr[14]);
  sb += q8p_word(w_chunk[o + 16u], xr[15]);
  // sum q x = 256 * sum (1 + (q + 128)/256) x - 384 * sum x
  return d.x * (256.0 * sa - 384.0 * xs.x) + d.y * (256.0 * sb - 384.0 * xs.y);
}
