// Byte access into raw GGUF weight bytes, for the block-format readers (dequant-q*.wgsl).
// Contract: the format library declares `w_data: array<u32>` (the tensor's bytes as in the file,
// padded to 4). GGUF blocks are 18/22/34/210 bytes, so most fields do not start on a 4-byte
// boundary: a 4-byte field is assembled from the two words it straddles. All fields that hold an
// f16 or a u16 start at an even byte, so they never straddle two words.

// The 4 bytes at byte offset `o` (any alignment), little-endian.
fn wb_u32(o: u32) -> u32 {
  let i = o >> 2u;
  let s = (o & 3u) * 8u;
  // select, not if: neighbouring lanes read blocks of both alignments, and a branch would diverge.
  // When s == 0 the second word is not needed (and may be past the end: robust access makes
  // that read harmless); `<< (32 - s)` with s == 0 would shift by 0 in WGSL, hence the select.
  let lo = w_data[i];
  let hi = w_data[i + 1u];
  return select((lo >> s) | (hi << (32u - s)), lo, s == 0u);
}

// The f16 at even byte offset `o`, as f32 (unpack2x16float is core WGSL: no shader-f16 needed).
fn wb_f16(o: u32) -> f32 {
  return unpack2x16float(extractBits(w_data[o >> 2u], (o & 2u) * 8u, 16u)).x;
}

// The unsigned byte at byte offset `o`.
fn wb_u8(o: u32) -> u32 {
  return extractBits(w_data[o >> 2u], (o & 3u) * 8u, 8u);
}

// The signed byte at byte offset `o` (extractBits on i32 sign-extends).
fn wb_i8(o: u32) -> i32 {
  return extractBits(bitcast<i32>(w_data[o >> 2u]), (o & 3u) * 8u, 8u);
}

// The 4 bytes of `w` as 4 unsigned values (byte 0 first).
fn wb_bytes(w: u32) -> vec4u {
  return (vec4u(w) >> vec4u(0u, 8u, 16u, 24u)) & vec4u(0xffu);
}

// Small unsigned integers (< 2^23) as exact floats without int->float conversions, which run at
// a fraction of the FMA rate on NVIDIA: the integer is OR-ed into the mantissa of 2^23 and 2^23
// (+ `off`) subtracted. Returns v - off.
fn wb_uint_f(v: vec4u, off: f32) -> vec4f {
  return bitcast<vec4f>(v | vec4u(0x4b000000u)) - (8388608.0 + off);
}

// The 4 bytes of `w` as 4 signed values (byte 0 first): flipping the sign bit maps q to q + 128.
fn wb_bytes_i8(w: u32) -> vec4f {
  return wb_uint_f((vec4u(w ^ 0x80808080u) >> vec4u(0u, 8u, 16u, 24u)) & vec4u(0xffu), 128.0);
}

// Low and high nibbles of the 4 bytes of `w` (byte 0 first).
fn wb_lo_nibbles(w: u32) -> vec4u {
  return (vec4u(w) >> vec4u(0u, 8u, 16u, 24u)) & vec4u(0xfu);
}
fn wb_hi_nibbles(w: u32) -> vec4u {
  return (vec4u(w) >> vec4u(4u, 12u, 20u, 28u)) & vec4u(0xfu);
}
