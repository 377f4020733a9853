// Int8-dot GEMV pair reader, GGUF Q6_K (block of 256 weights, 210 B: ql[128] low 4 bits |
// qh[64] high 2 bits | scales[16] i8 | d f16; weight e = d * scales[e / 16] * (q - 32), the
// bytes laid out as in dequant-q6_k.wgsl), for shaders/matmul-gemv-int8.wgsl. Interface: see
// gemv-int8-q4_0.wgsl.
// A pair is not 64 consecutive columns but the 64 weights that 32 consecutive ql bytes hold
// (pair_cols in int8-groups-q6_k.wgsl): pair p is block p / 4 of the row, half h = (p / 2) % 2,
// run g = p % 2; ql[64h + 32g + l] (l < 32) holds column 128h + 32g + l (block A) in its low
// nibble and the column 64 further (block B) in its high one, qh[32h + l] their high bits at
// bits 2g and 2g + 4, and scales[8h + 2g + {0, 1}] / [8h + 2g + {4, 5}] scale each block's two
// halves of 16. So every ql byte is read by one pair and used whole (qh bytes by two), where 64
// consecutive columns would take each byte for one nibble.
// Alignment: 210 = 2 mod 4, so every other block of the tensor (by its index n * K/256 + b)
// starts mid-word. A 32-byte run is read as 9 words and, for such a block, shifted into 8 by 16
// bits; a select (not a branch) picks the shift, since neighbouring invocations hold blocks of
// both parities. The 2-byte scale pairs and d never straddle a word (blocks start at even bytes).
// The -32: q (0..63) is multiplied unsigned, and 32 * (x's int8 sum over each 16 columns, in
// xo: see pair_offsets) subtracted before the scale. A block's scaled integer sum is then exact
// in f32 as well: at most 2 halves * 128 * 16 * 32 * 127 < 2^24.
@group(0) @binding(W_BINDING) var<storage, read> w_data: array<u32>;

const PW = 21u; // words loaded per pair: 9 of ql, 9 of qh, 2 with its scales, 1 with d
const NIB = 0x0f0f0f0fu;
const HI2 = 0x30303030u;

struct WPair {
  q: array<u32, 16>, // unsigned q (0..63), 4 per word: block A's 8 words, then block B's
  sc: vec4i,         // scales of A's columns 0..15, A's 16..31, B's 0..15, B's 16..31
  d: f32,
}

fn pair_load(n: u32, p: u32) -> WPair {
  let o = (n * (params.K / 256u) + (p >> 2u)) * 210u; // the block's first byte
  let h = (p >> 1u) & 1u;
  let g = p & 1u;
  // 9 words from the one holding the run's first byte: 32 bytes at either alignment
  let ql0 = (o >> 2u) + 16u * h + 8u * g;
  let qh0 = (o >> 2u) + 32u + 8u * h;
  var ql: array<u32, 9>;
  var qh: array<u32, 9>;
  for (var t = 0u; t < 9u; t++) {
    ql[t] = w_data[ql0 + t];
    qh[t] = w_data[qh0 + t];
  }
  let c = o + 192u + 8u * h + 2u * g; // byte of block A's scales; block B's are at c + 4
  let s0 = w_data[c >> 2u];
  let s1 = w_data[(c >> 2u) + 1u];
  let dw = w_data[(o + 208u) >> 2u];
  let odd = (o & 2u) != 0u;
  var wp: WPair;
  for (var t = 0u; t < 8u; t++) {
    let l = select(ql[t], (ql[t] >> 16u) | (ql[t + 1u] << 16u), odd);
    // run g's high bits to bits 0-1 of each byte, run g + 2's to bits 4-5
    let hb = select(qh[t], (qh[t] >> 16u) | (qh[t + 1u] << 16u), odd) >> (2u * g);
    wp.q[t] = (l & NIB) | ((hb << 4u) & HI2);
    wp.q[8u + t] = ((l >> 4u) & NIB) | (hb & HI2);
  }
  let cs = (c & 2u) * 8u;
  wp.sc = unpack4xI8(((s0 >> cs) & 0xffffu) | ((s1 >> cs) << 16u));
  wp.d = unpack2x16float(dw >> ((o & 2u) * 8u)).x;
  return wp;
}

fn pair_dot_i8(wp: WPair, i: u32) -> vec2i {
  let b = i * 16u;
  var lo = vec2i(0i); // (block A, block B) over their columns 0..15
  var hi = vec2i(0i); // over 16..31
  for (var t = 0u; t < 4u; t++) {
    lo += vec2i(dot4I8Packed(wp.q[t], xq[b + t]), dot4I8Packed(wp.q[8u + t], xq[b + 8u + t]));
    hi += vec2i(dot4I8Packed(wp.q[4u + t], xq[b + 4u + t]), dot4I8Packed(wp.q[12u + t], xq[b + 12u + t]));
  }
  let xs = xo[i]; // per block: i16 sums of x over columns 0..15 (low half) and 16..31 (high half)
  lo -= 32i * extractBits(xs, 0u, 16u);
  hi -= 32i * (xs >> vec2u(16u));
  return wp.sc.xz * lo + wp.sc.yw * hi;
}

fn pair_scales(wp: WPair) -> vec2f {
  return vec2f(wp.d);
}
