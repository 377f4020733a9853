// Matmul, decode path (GEMV): y[m, n] = sum_k x[m, k] * W[n, k] (+ bias[n]), for small M.
//
// Bindings (group 0):
//   0 x      [M, K] act_t                read, through x_vec4 (shaders/matmul-x-*.wgsl)
//   1 w      [N, K] in its stored format read, through w_pack (shaders/lib/dequant-<format>.wgsl)
//   2 bias   [N]    f32                  read (main_bias only)
//   3 y      [M, N] act_t                write
//   4 params Params { M, N, K }
// Prelude: act_t; Params; consts ROWS, MB and PPT (generated: they size register arrays, which an
// override may not); an x reader; a weight reader (+ dequant-bytes for block formats); a
// reduction (matmul-reduce-plain or -subgroup: MmLane, mm_reduce); the entry points
// (matmul-gemv-entry.wgsl: main, main_bias).
// Grid: one workgroup per ROWS consecutive rows of W (outputs n), linear id over x,y. It covers
// every row m of x, MB rows per pass; W is re-read from cache each pass, so this path is meant
// for M up to a few MB. Inside the workgroup invocations split K: invocation i decodes packs
// (8 weights each) PPT at a time, starting at i*PPT, then (i+WG)*PPT, ... (adjacent invocations
// read adjacent bytes, so loads coalesce),
// then all ROWS*MB partial sums are reduced over the workgroup together. With MB = 1 (decode) it
// uses the format's w_pack_dot, which applies block offsets and scales to sums, not to weights.
// Tunables: WG (override, power of two), ROWS, MB, PPT, reduce flavour.
// Precision: weights dequantized to f32, products and sums in f32; only x and y storage is act_t.

override WG: u32 = 128;
const RM = ROWS * MB;
const X_BINDING = 0u;
const W_BINDING = 1u;

@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<act_t>;
@group(0) @binding(4) var<uniform> params: Params;

// Partial dot products of rows n0..n0+ROWS-1 of W with rows m0..m0+MB-1 of x over this
// invocation's share of K, reduced: invocation j < RM gets the sum for (n0 + j / MB, m0 + j % MB).
fn gemv_pass(n0: u32, m0: u32, lane: MmLane) -> f32 {
  var acc: array<f32, RM>;
  let packs = (params.K + 7u) / 8u;
  // Each invocation takes PPT consecutive packs per step: more independent loads in flight per
  // invocation (a whole Q4_0 block is 4 packs), which small-block formats need to reach DRAM speed.
  for (var p0 = lane.index * PPT; p0 < packs; p0 += WG * PPT) {
    for (var j = 0u; j < PPT; j++) {
      // No early exit past the last pack: a loop without one is unrolled, so the PPT packs'
      // loads are all in flight at once. Packs past the end read the last pack with x zeroed.
      let p = min(p0 + j, packs - 1u);
      let keep = select(0.0, 1.0, p0 + j < packs);
      let k = w_pack_k(p);
      var xa: array<vec4f, MB>;
      var xb: array<vec4f, MB>;
      for (var i = 0u; i < MB; i++) {
        let m = min(m0 + i, params.M - 1u); // rows past M compute garbage that is never stored
        xa[i] = x_vec4(m, k.x) * keep;
        xb[i] = x_vec4(m, k.y) * keep;
      }
      for (var r = 0u; r < ROWS; r++) {
        let n = min(n0 + r, params.N - 1u);
        if (MB == 1u) {
          // One row of x: the format's fused dot (offsets and scales applied to sums) is cheaper.
          let xs = vec2f(dot(xa[0], vec4f(1.0)), dot(xb[0], vec4f(1.0)));
          acc[r] += w_pack_dot(n, p, xa[0], xb[0], xs);
        } else {
          let w = w_pack(n, p); // decoded once, used for MB rows of x
          for (var i = 0u; i < MB; i++) {
            // rows of x past M: skipped (uniform branch), so a config sized for 8 rows costs
            // the arithmetic of M rows
            if (m0 + i < params.M) {
              acc[r * MB + i] += dot(w[0], xa[i]) + dot(w[1], xb[i]);
            }
          }
        }
      }
    }
  }
  return mm_reduce(acc, lane);
}
