// Matmul, decode path on int8 dot products, for GGUF Q4_0, Q8_0 and Q6_K rows:
// y[m, n] = sum_k xq[m, k] * W[n, k] (+ bias[n]), W in the file's raw block layout, where xq is
// x quantized per 32-block the way llama.cpp's Q8 activations are: d = max|x| / 127,
// q = round(x / d) (to nearest even) in [-127, 127], xq = d * q.
//
// Bindings (group 0):
//   0 x      [M, K] act_t                read by the x library: either x itself (through x_vec4,
//                                        quantized here: lib/gemv-int8-x-quant.wgsl), or x
//                                        quantized beforehand (0 xq and 5 xs: lib/gemv-int8-x-pre.wgsl)
//   1 w      [N, K] raw GGUF blocks      read as words (w_data, declared by the format library
//                                        shaders/lib/gemv-int8-<format>.wgsl)
//   2 bias   [N]    f32                  read (main_bias only)
//   3 y      [M, N] act_t                write
//   4 params Params { M, N, K }
// Prelude: act_t; Params; consts WG, ROWS, MB, PL, RB (generated); the format library (WPair,
// pair_load, pair_dot_i8, pair_scales); the x library (x_slot) and what it needs (in-kernel:
// x_vec4, lib/int8-quant.wgsl, lib/int8-groups-<format>.wgsl); a reduction (matmul-reduce-plain
// or -subgroup: MmLane, mm_reduce, const RM = ROWS * MB); the entry points
// (matmul-gemv-entry.wgsl: main, main_bias). Needs the WGSL language feature
// packed_4x8_integer_dot_product.
// Contract: K % 64 == 0 for Q4_0/Q8_0 (whole pairs of blocks: every row starts 4-byte aligned and
// a pair is whole words: Q4_0 36 B = 9, Q8_0 68 B = 17); K % 256 == 0 for Q6_K (whole blocks; a
// row may start mid-word, which its library handles).
// Grid: one workgroup per ROWS consecutive rows of W (outputs n), linear id over x,y.
// Why: on NVIDIA the f32 GEMV spends ~8 instructions per Q4_0 weight (unaligned byte access,
// nibble -> float, FMA) and runs ALU-bound at a quarter of DRAM speed; dot4I8Packed takes 4
// weights per instruction and the nibbles need one AND (plus a shift for the high ones).
// Mapping: a row is K/64 "pairs" of 32-column blocks of x (A and B: for Q4_0/Q8_0 the 64
// columns of two consecutive weight blocks; for Q6_K the 64 weights of 32 bytes of its ql, see
// its library). Invocation i owns the pairs p = i, i + WG, ... (PL of them) of every row of the
// workgroup. Rows of x go in passes of MB: per pass it takes MB rows of quantized x over its
// pairs into registers (x_slot), then walks ROWS rows of W, RB rows' loads in flight at a time,
// each pair's words used for the MB rows of x; adjacent invocations read adjacent pairs. The
// ROWS * MB partial sums of a pass are reduced over the workgroup together.
// Precision: exact integer dot products per block, then scales and sums in f32; the error
// against the exact product is x's quantization (half a step of d per element).

const X_BINDING = 0u;
const W_BINDING = 1u;
const RM = ROWS * MB;

@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<act_t>;
@group(0) @binding(4) var<uniform> params: Params;

// This invocation's x over its PL pairs for the pass's MB rows, quantized; slot i * MB + j is
// pair i, row m0 + j: 16 words of 4 int8 (block A in the format's grouping, block B in column
// order), and per block the scale d and the format's offset term. Private: indexed only with
// constants after unrolling, so it stays in registers.
var<private> xq: array<u32, PL * MB * 16u>;
var<private> xd: array<vec2f, PL * MB>;
var<private> xo: array<vec2i, PL * MB>;

// Sums over the workgroup: invocation j < ROWS * MB gets row n0 + j / MB of W times row
// m0 + j % MB of x.
fn gemv_pass(n0: u32, m0: u32, lane: MmLane) -> f32 {
  let pairs = params.K / 64u;
  // This pass's x: slot i * MB + j = pair lane + i * WG of row m0 + j (clamped in range; a slot
  // past K or M gets d = 0, so its clamped weights add exactly 0).
  for (var i = 0u; i < PL; i++) {
    let p = lane.index + i * WG;
    for (var j = 0u; j < MB; j++) {
      x_slot(i * MB + j, min(m0 + j, params.M - 1u), min(p, pairs - 1u), p < pairs && m0 + j < params.M);
    }
  }
  var acc: array<f32, RM>;
  for (var r0 = 0u; r0 < ROWS; r0 += RB) {
    for (var i = 0u; i < PL; i++) {
      let p = min(lane.index + i * WG, pairs - 1u);
      // RB rows' words loaded before any is used: RB * PW loads in flight per invocation.
      var wv: array<WPair, RB>;
      for (var r = 0u; r < RB; r++) { wv[r] = pair_load(min(n0 + r0 + r, params.N - 1u), p); }
      for (var r = 0u; r < RB; r++) {
        let wp = wv[r];
        let dw = pair_scales(wp);
        for (var j = 0u; j < MB; j++) {
          let s = pair_dot_i8(wp, i * MB + j); // (block A, block B) integer sums, offsets applied
          // A slot past the end has xd = 0; its (clamped, valid) weights then add exactly 0.
          acc[(r0 + r) * MB + j] += dot(dw * xd[i * MB + j], vec2f(s));
        }
      }
    }
  }
  return mm_reduce(acc, lane);
}
