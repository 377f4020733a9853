// Matmul, decode path on int8 dot products, for 32-element block formats (Q4_0, Q8_0):
// y[m, n] = sum_k xq[m, k] * W[n, k] (+ bias[n]), W in the file's raw block layout, where xq is
// x quantized per 32-block the way llama.cpp's Q8 activations are: d = max|x| / 127,
// q = round(x / d) (to nearest even) in [-127, 127], xq = d * q.
//
// Bindings (group 0):
//   0 x      [M, K] act_t                read, through x_vec4 (shaders/matmul-x-vec4.wgsl)
//   1 w      [N, K] raw GGUF blocks      read as words (w_data, declared by the format library
//                                        shaders/lib/gemv-int8-<format>.wgsl)
//   2 bias   [N]    f32                  read (main_bias only)
//   3 y      [M, N] act_t                write
//   4 params Params { M, N, K }
// Prelude: act_t; Params; consts WG, ROWS, MB, PL, RB (generated); x_vec4; the format library
// (PW, xa_groups, pair_dot_i8, pair_offsets); a reduction (matmul-reduce-plain or -subgroup:
// MmLane, mm_reduce, const RM = ROWS * MB); the entry points (matmul-gemv-entry.wgsl: main,
// main_bias). Needs the WGSL language feature packed_4x8_integer_dot_product.
// Contract: K % 64 == 0 (whole pairs of blocks: every row starts 4-byte aligned and a pair is PW
// whole words: Q4_0 36 B = 9, Q8_0 68 B = 17).
// Grid: one workgroup per ROWS consecutive rows of W (outputs n), linear id over x,y.
// Why: on NVIDIA the f32 GEMV spends ~8 instructions per Q4_0 weight (unaligned byte access,
// nibble -> float, FMA) and runs ALU-bound at a quarter of DRAM speed; dot4I8Packed takes 4
// weights per instruction and the nibbles need one AND (plus a shift for the high ones).
// Mapping: invocation i owns the pairs of blocks p = i, i + WG, ... (PL of them) of every row
// of the workgroup. Rows of x go in passes of MB: per pass it quantizes MB rows of x over its
// pairs (in registers), then walks ROWS rows of W, RB rows' loads in flight at a time, each
// pair's words used for the MB rows of x; adjacent invocations read adjacent pairs. The
// ROWS * MB partial sums of a pass are reduced over the workgroup together.
// Precision: exact integer dot products per block, then scales and sums in f32; the error
// against the exact product is x's quantization (half a step of d per element).

const X_BINDING = 0u;
const W_BINDING = 1u;
const RM = ROWS * MB;
const QMAGIC: f32 = 12582912.0; // 1.5 * 2^23: t + QMAGIC rounds t to an integer in its low bits

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

// round(v * inv) as 4 int8 in one word; `inv` = 127 / max|x| of the block (0 for a zero block).
fn quant4(v: vec4f, inv: f32) -> u32 {
  let r = bitcast<vec4i>(bitcast<vec4u>(v * inv + QMAGIC) - vec4u(0x4b400000u));
  return pack4xI8(r);
}

// Quantizes x[m, k0 .. k0 + 63] into slot i (live == false: past the end of K or of M, whose
// contributions must be zero).
fn quant_pair(m: u32, k0: u32, i: u32, live: bool) {
  for (var h = 0u; h < 2u; h++) {
    var a: array<vec4f, 8>;
    var amax = 0.0;
    for (var j = 0u; j < 8u; j++) {
      a[j] = x_vec4(m, k0 + h * 32u + j * 4u);
      let b = abs(a[j]);
      amax = max(amax, max(max(b.x, b.y), max(b.z, b.w)));
    }
    let inv = select(0.0, 127.0 / amax, amax > 0.0 && live);
    let d = select(0.0, amax / 127.0, live);
    // Block A (h = 0) in the grouping the format's straddling words need; block B in order.
    var g = a;
    if (h == 0u) { g = xa_groups(a); }
    var sum = 0i;
    for (var j = 0u; j < 8u; j++) {
      let w = quant4(g[j], inv);
      xq[i * 16u + h * 8u + j] = w;
      sum += dot4I8Packed(w, 0x01010101u);
    }
    if (h == 0u) { xd[i].x = d; xo[i].x = sum; } else { xd[i].y = d; xo[i].y = sum; }
  }
  xo[i] = pair_offsets(xo[i]);
}

// Sums over the workgroup: invocation j < ROWS * MB gets row n0 + j / MB of W times row
// m0 + j % MB of x.
fn gemv_pass(n0: u32, m0: u32, lane: MmLane) -> f32 {
  let pairs = params.K / 64u;
  for (var i = 0u; i < PL; i++) {
    let p = lane.index + i * WG;
    for (var j = 0u; j < MB; j++) {
      quant_pair(min(m0 + j, params.M - 1u), min(p, pairs - 1u) * 64u, i * MB + j, p < pairs && m0 + j < params.M);
    }
  }
  var acc: array<f32, RM>;
  for (var r0 = 0u; r0 < ROWS; r0 += RB) {
    for (var i = 0u; i < PL; i++) {
      let p = min(lane.index + i * WG, pairs - 1u);
      // RB rows' words loaded before any is used: RB * PW loads in flight per invocation.
      var wv: array<u32, RB * PW>;
      for (var r = 0u; r < RB; r++) {
        let n = min(n0 + r0 + r, params.N - 1u);
        let o = (n * pairs + p) * PW;
        for (var t = 0u; t < PW; t++) { wv[r * PW + t] = w_data[o + t]; }
      }
      for (var r = 0u; r < RB; r++) {
        var wp: array<u32, PW>;
        for (var t = 0u; t < PW; t++) { wp[t] = wv[r * PW + t]; }
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
