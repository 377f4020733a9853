// Matmul, decode path for 32-element block formats (Q4_0, Q8_0), one row of x per pass:
// y[m, n] = sum_k x[m, k] * W[n, k] (+ bias[n]), W in the file's raw block layout.
//
// Bindings (group 0):
//   0 x      [M, K] act_t                read, through x_vec4 (shaders/matmul-x-vec4.wgsl)
//   1 w      [N, K] raw GGUF blocks      read as words (w_data, declared by the pair library
//                                        shaders/lib/gemv-pair-<format>.wgsl)
//   2 bias   [N]    f32                  read (main_bias only)
//   3 y      [M, N] act_t                write
//   4 params Params { M, N, K }
// Prelude: act_t; Params; consts WG, ROWS, RL, C (generated); x_vec4; the pair library (PW,
// pair_dot, which reads xr); a reduction (matmul-reduce-plain or -subgroup: MmLane, mm_reduce,
// const RM = ROWS); the entry points (matmul-gemv-entry.wgsl: main, main_bias).
// Contract: K % 64 == 0 (an even number of 32-blocks per row), so every row starts on a 4-byte
// boundary and a pair of blocks is PW whole words (Q4_0: 36 B = 9, Q8_0: 68 B = 17).
// Grid: one workgroup per ROWS consecutive rows of W (outputs n), linear id over x,y.
// One workgroup: WG = C * (ROWS / RL) invocations. K is walked in chunks of C pairs of blocks
// (64 columns each). Per chunk the workgroup copies the ROWS rows' PW*C words of W and the chunk
// of x into workgroup memory with coalesced loads (adjacent invocations, adjacent words: blocks
// are 18 or 34 bytes, so an invocation reading its own block straight from memory would make
// every load touch many cache lines). Then invocation (g, c) = (index / C, index % C) takes
// pair c of the chunk: its 64 values of x (converted to f32 once) stay in registers for its RL
// rows g*RL.. of W, and each pair is decoded from workgroup memory (PW words at stride PW: an
// odd stride, so no bank conflicts). The partial sums are reduced over the workgroup at the end.
// Rows m of x are passes: this path is meant for M = 1 (the few-rows GEMV reads W once for them).
// Tunables: C, ROWS, RL (consts), reduce flavour.
// Precision: weights exact small integers times f32 scales, products and sums in f32; x is
// converted from act_t to f32 (exact); only x and y storage is act_t.

const RM = ROWS;
const MB = 1u; // one row of x per pass (matmul-gemv-entry.wgsl)
const G = ROWS / RL; // row groups: invocations g*C .. g*C+C-1 take rows g*RL .. g*RL+RL-1
const X_BINDING = 0u;
const W_BINDING = 1u;
const XS = 17u; // vec4s per pair in x_chunk: 16 used, one of padding, so that the invocations'
                // 16-byte reads at stride 17 vec4s fall on distinct banks

@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<act_t>;
@group(0) @binding(4) var<uniform> params: Params;

var<workgroup> w_chunk: array<u32, ROWS * C * PW>; // [ROWS, C * PW] u32: this chunk of each row
var<workgroup> x_chunk: array<vec4f, C * XS>;      // [C, XS] vec4f: x[m, chunk] as f32, padded
// This invocation's 64 values of x, read by pair_dot with constant indices (a function-local
// array passed by value, or indexed by a loop variable, may be placed in slow local memory).
var<private> xr: array<vec4f, 16>;

// Sums over the workgroup: invocation j < ROWS gets row n0 + j of W times row m of x.
fn gemv_pass(n0: u32, m: u32, lane: MmLane) -> f32 {
  let l = lane.index;
  let c = l % C;
  let g = l / C;
  let pairs = params.K / 64u;
  let row_words = pairs * PW;
  var acc_l: array<f32, RL>;
  for (var p0 = 0u; p0 < pairs; p0 += C) {
    let np = min(C, pairs - p0); // pairs in this chunk
    let cw = np * PW;            // words per row in this chunk
    // All of this invocation's RL * PW words (WG * RL * PW = ROWS * C * PW) are loaded before
    // any is stored: stored one by one, each load would wait for the previous store, and the
    // loop would run at one memory latency per word.
    var wv: array<u32, RL * PW>;
    for (var t = 0u; t < RL * PW; t++) {
      let i = l + t * WG;
      let r = i / (C * PW);
      let j = i - r * (C * PW);
      let n = min(n0 + r, params.N - 1u); // rows past N: garbage that is never stored
      wv[t] = w_data[n * row_words + p0 * PW + min(j, cw - 1u)]; // j >= cw: never read
    }
    for (var t = 0u; t < RL * PW; t++) {
      w_chunk[l + t * WG] = wv[t];
    }
    for (var i = l; i < C * 16u; i += WG) {
      let pc = i / 16u;
      let q = i % 16u;
      if (pc < np) {
        x_chunk[pc * XS + q] = x_vec4(m, (p0 + pc) * 64u + q * 4u);
      }
    }
    workgroupBarrier();
    if (c < np) {
      // x[m, 64 (p0 + c) ..] as f32, reused for RL rows; written with constant indices only
      xr[0] = x_chunk[c * XS + 0u];
      xr[1] = x_chunk[c * XS + 1u];
      xr[2] = x_chunk[c * XS + 2u];
      xr[3] = x_chunk[c * XS + 3u];
      xr[4] = x_chunk[c * XS + 4u];
      xr[5] = x_chunk[c * XS + 5u];
      xr[6] = x_chunk[c * XS + 6u];
      xr[7] = x_chunk[c * XS + 7u];
      xr[8] = x_chunk[c * XS + 8u];
      xr[9] = x_chunk[c * XS + 9u];
      xr[10] = x_chunk[c * XS + 10u];
      xr[11] = x_chunk[c * XS + 11u];
      xr[12] = x_chunk[c * XS + 12u];
      xr[13] = x_chunk[c * XS + 13u];
      xr[14] = x_chunk[c * XS + 14u];
      xr[15] = x_chunk[c * XS + 15u];
      let xa = xr[0] + xr[1] + xr[2] + xr[3] + xr[4] + xr[5] + xr[6] + xr[7];
      let xb = xr[8] + xr[9] + xr[10] + xr[11] + xr[12] + xr[13] + xr[14] + xr[15];
      let xs = vec2f(dot(xa, vec4f(1.0)), dot(xb, vec4f(1.0))); // per block, for the formats' offsets
      for (var i = 0u; i < RL; i++) {
        acc_l[i] += pair_dot(((g * RL + i) * C) * PW + c * PW, xs);
      }
    }
    workgroupBarrier();
  }
  // Into the layout mm_reduce sums: a slot per row of the workgroup, zero for other groups' rows.
  var acc: array<f32, RM>;
  for (var r = 0u; r < ROWS; r++) {
    acc[r] = select(0.0, acc_l[r % RL], r / RL == g);
  }
  return mm_reduce(acc, lane);
}
