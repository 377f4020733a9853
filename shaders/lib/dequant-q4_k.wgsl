// Matmul weight reader: GGUF Q4_K blocks.
// Block (144 B / 256 weights, so every block is 4-byte aligned): d f16 | dmin f16 |
// scales[12] (8 x 6-bit scale, 8 x 6-bit min, packed as in ggml's get_scale_min_k4) | qs[128].
// qs bytes 32c..32c+31 hold weights 64c+l (low nibble, sub-block 2c) and 64c+32+l (high nibble,
// sub-block 2c+1); weight = d*scale[s] * q - dmin*min[s].
// Interface and contract: see dequant-q4_0.wgsl (K a multiple of 256). Needs dequant-bytes.wgsl.
@group(0) @binding(W_BINDING) var<storage, read> w_data: array<u32>; // [N * K/256 * 144] bytes

// word index of the block
fn q4_k_block(row: u32, b: u32) -> u32 {
  return (row * (params.K >> 8u) + b) * 36u;
}

// (d * scale, dmin * min) of sub-block j (0..7) of the block at word o4.
fn q4_k_scale_min(o4: u32, j: u32) -> vec2f {
  let dm = unpack2x16float(w_data[o4]);
  let sh = (j & 3u) * 8u;
  let a = extractBits(w_data[o4 + 1u], sh, 8u); // scales[j & 3]
  let b = extractBits(w_data[o4 + 2u], sh, 8u); // scales[(j & 3) + 4]
  let c = extractBits(w_data[o4 + 3u], sh, 8u); // scales[(j & 3) + 8]
  let lo = j < 4u;
  let sc = select((c & 0xfu) | ((a >> 6u) << 4u), a & 63u, lo);
  let m = select((c >> 4u) | ((b >> 6u) << 4u), b & 63u, lo);
  return vec2f(dm.x * f32(sc), dm.y * f32(m));
}

fn w_pack(row: u32, p: u32) -> mat2x4f {
  let o4 = q4_k_block(row, p >> 5u);
  let t = p & 31u;
  let c = t >> 3u;
  let q = w_data[o4 + 4u + 8u * c + (t & 7u)];
  let s0 = q4_k_scale_min(o4, 2u * c);
  let s1 = q4_k_scale_min(o4, 2u * c + 1u);
  return mat2x4f(s0.x * vec4f(wb_lo_nibbles(q)) - s0.y, s1.x * vec4f(wb_hi_nibbles(q)) - s1.y);
}

fn w_pack_k(p: u32) -> vec2u {
  let t = p & 31u;
  let k = (p >> 5u) * 256u + (t >> 3u) * 64u + (t & 7u) * 4u;
  return vec2u(k, k + 32u);
}

fn w_quad(row: u32, q: u32) -> vec4f {
  let o4 = q4_k_block(row, q >> 6u);
  let j = q & 63u;  // weights 4j..4j+3 of the block, in sub-block j/8
  let c = j >> 4u;
  let hi = (j & 8u) != 0u;
  let w = w_data[o4 + 4u + 8u * c + (j & 7u)];
  let s = q4_k_scale_min(o4, j >> 3u);
  return s.x * vec4f(select(wb_lo_nibbles(w), wb_hi_nibbles(w), hi)) - s.y;
}

// (d*scale, dmin*min) of sub-blocks 2c and 2c+1 together (their 6-bit fields sit in adjacent
// bytes of the same words), as (d*sc0, dmin*m0, d*sc1, dmin*m1).
fn q4_k_scale_min2(o4: u32, c: u32) -> vec4f {
  let dm = unpack2x16float(w_data[o4]);
  let sh = (c & 1u) * 16u;
  let a = (vec2u(extractBits(w_data[o4 + 1u], sh, 16u)) >> vec2u(0u, 8u)) & vec2u(0xffu);
  let b = (vec2u(extractBits(w_data[o4 + 2u], sh, 16u)) >> vec2u(0u, 8u)) & vec2u(0xffu);
  let e = (vec2u(extractBits(w_data[o4 + 3u], sh, 16u)) >> vec2u(0u, 8u)) & vec2u(0xffu);
  let lo = c < 2u;
  let sc = select((e & vec2u(0xfu)) | ((a >> vec2u(6u)) << vec2u(4u)), a & vec2u(63u), lo);
  let m = select((e >> vec2u(4u)) | ((b >> vec2u(6u)) << vec2u(4u)), b & vec2u(63u), lo);
  return vec4f(dm.x * f32(sc.x), dm.y * f32(m.x), dm.x * f32(sc.y), dm.y * f32(m.y));
}

// dot(pack p of the row, x) for the GEMV with one row of x per pass: nibbles unpacked 4 at a
// time (unpack4x8unorm gives q/255), scales and mins applied once per run of 4:
// d*sc * sum q*x - dmin*m * sum x. xs = (sum of xa, sum of xb).
fn w_pack_dot(row: u32, p: u32, xa: vec4f, xb: vec4f, xs: vec2f) -> f32 {
  let o4 = q4_k_block(row, p >> 5u);
  let t = p & 31u;
  let c = t >> 3u;
  let q = w_data[o4 + 4u + 8u * c + (t & 7u)];
  let s = q4_k_scale_min2(o4, c);
  let lo = dot(unpack4x8unorm(q & 0x0f0f0f0fu), xa);
  let hi = dot(unpack4x8unorm((q >> 4u) & 0x0f0f0f0fu), xb);
  return 255.0 * (s.x * lo + s.z * hi) - s.y * xs.x - s.w * xs.y;
}
