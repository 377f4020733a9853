// Matmul, prefill path (tiled GEMM): y[m, n] = sum_k x[m, k] * W[n, k] (+ bias[n]).
//
// Bindings (group 0):
//   0 x      [M, K] act_t                read, through x_vec4 (shaders/matmul-x-*.wgsl)
//   1 w      [N, K] in its stored format read, through w_quad (shaders/lib/dequant-<format>.wgsl)
//   2 bias   [N]    f32                  read (main_bias only)
//   3 y      [M, N] act_t                write
//   4 params Params { M, N, K, KC }
//   6 part   [SPLIT, M, N] f32           scratch, main_split only (shaders/lib/gemm-grid.wgsl)
// Prelude: act_t; Params; consts BM, BN, BK, TM, TN, SPLIT, K_TAIL (generated: they size register
// arrays; K_TAIL = 1 where K % BK != 0); an x reader; a weight reader (+ dequant-bytes for block
// formats); gemm-grid.wgsl.
// Grid: (ceil(N / BN), ceil(M / BM), SPLIT); one workgroup computes a BM x BN tile of y (over the
// K columns of its split, split_k_range(z); all of K when SPLIT = 1), with
// WG = (BM / TM) * (BN / TN) invocations. Per step of BK columns it stages x[BM, BK] and
// W[BN, BK] in workgroup memory as f32, transposed (k-major), W dequantized while loaded (each
// weight decoded once per workgroup, never expanded in GPU memory); then each invocation
// accumulates a TM x TN sub-tile.
// Layout choices (each measured to matter on NVIDIA; see bench/README.md):
// - Staging: an invocation loads a 4 x 4 block (4 rows, 4 consecutive columns: one x_vec4 /
//   w_quad per row; neighbouring invocations take neighbouring column quads, so loads
//   coalesce), transposes it in registers and writes 4 vec4 words (one per column), not 16
//   scalars. The next step's blocks are loaded into registers before the current step's
//   products, so global latency hides behind the FMAs.
// - Products: the sub-tile is TM/4 x TN/4 groups of 4 x 4, at rows 4 * (ty + g * BM/TM) + 0..3
//   and columns 4 * (tx + g * BN/TN) + 0..3: every workgroup-memory read is a vec4, and the
//   invocations of a subgroup read consecutive (or broadcast) words, without bank conflicts.
// Tunables: BM, BN (multiples of TM, TN), BK (a multiple of 4), TM, TN (4 or 8), SPLIT (split-K).
// Precision: f32 tiles, f32 products and sums; only x and y storage is act_t.

const WG = (BM / TM) * (BN / TN);
const BK4 = BK / 4u;
const XB = (BM / 4u) * BK4; // 4 x 4 blocks of the x tile
const WB = (BN / 4u) * BK4; // and of the W tile
const NXB = (XB + WG - 1u) / WG; // blocks each invocation stages per step
const NWB = (WB + WG - 1u) / WG;
const X_BINDING = 0u;
const W_BINDING = 1u;
const NONE = 0xffffffffu;

@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<act_t>;
@group(0) @binding(4) var<uniform> params: Params;

var<workgroup> xs: array<vec4f, BK * BM / 4u>; // [BK, BM / 4] x tile, transposed: 4 rows a word
var<workgroup> ws: array<vec4f, BK * BN / 4u>; // [BK, BN / 4] W tile, transposed, dequantized

// One step's blocks of this invocation, rows of each block in turn: [block][row] -> 4 columns.
struct Staged {
  x: array<vec4f, NXB * 4u>,
  w: array<vec4f, NWB * 4u>,
}

// Columns at or past kend (the end of this workgroup's split) load as zeros; where K is a
// multiple of BK (K_TAIL = 0) no step of a non-empty split reaches past kend (the caller loads
// nothing for an empty one). Rows past M and N are clamped rather than skipped (their products
// land in rows the epilogue does not store): predicated loads cost the tensor-core kernel 20-30%
// on the H200 (matmul-tensor.wgsl).
fn gemm_load(n0: u32, m0: u32, lid: u32, k0: u32, kend: u32) -> Staged {
  var st: Staged;
  for (var j = 0u; j < NXB; j++) {
    let b = lid + j * WG;
    let r = (b / BK4) * 4u;
    let c = k0 + (b % BK4) * 4u;
    for (var e = 0u; e < 4u; e++) {
      var v = vec4f(0.0);
      if (b < XB && (K_TAIL == 0u || c < kend)) { v = x_vec4(min(m0 + r + e, params.M - 1u), c); }
      st.x[j * 4u + e] = v;
    }
  }
  for (var j = 0u; j < NWB; j++) {
    let b = lid + j * WG;
    let r = (b / BK4) * 4u;
    let c = k0 + (b % BK4) * 4u;
    for (var e = 0u; e < 4u; e++) {
      var v = vec4f(0.0);
      if (b < WB && (K_TAIL == 0u || c < kend)) { v = w_quad(min(n0 + r + e, params.N - 1u), c >> 2u); }
      st.w[j * 4u + e] = v;
    }
  }
  return st;
}

// Registers -> the transposed tiles: column c of a block is one vec4 (its 4 rows).
fn gemm_store(lid: u32, st: ptr<function, Staged>) {
  for (var j = 0u; j < NXB; j++) {
    let b = lid + j * WG;
    if (b < XB) {
      let o = (b % BK4) * 4u * (BM / 4u) + b / BK4;
      let r0 = (*st).x[j * 4u];
      let r1 = (*st).x[j * 4u + 1u];
      let r2 = (*st).x[j * 4u + 2u];
      let r3 = (*st).x[j * 4u + 3u];
      xs[o] = vec4f(r0.x, r1.x, r2.x, r3.x);
      xs[o + BM / 4u] = vec4f(r0.y, r1.y, r2.y, r3.y);
      xs[o + 2u * (BM / 4u)] = vec4f(r0.z, r1.z, r2.z, r3.z);
      xs[o + 3u * (BM / 4u)] = vec4f(r0.w, r1.w, r2.w, r3.w);
    }
  }
  for (var j = 0u; j < NWB; j++) {
    let b = lid + j * WG;
    if (b < WB) {
      let o = (b % BK4) * 4u * (BN / 4u) + b / BK4;
      let r0 = (*st).w[j * 4u];
      let r1 = (*st).w[j * 4u + 1u];
      let r2 = (*st).w[j * 4u + 2u];
      let r3 = (*st).w[j * 4u + 3u];
      ws[o] = vec4f(r0.x, r1.x, r2.x, r3.x);
      ws[o + BN / 4u] = vec4f(r0.y, r1.y, r2.y, r3.y);
      ws[o + 2u * (BN / 4u)] = vec4f(r0.z, r1.z, r2.z, r3.z);
      ws[o + 3u * (BN / 4u)] = vec4f(r0.w, r1.w, r2.w, r3.w);
    }
  }
}

fn gemm_tile(wid: vec3u, lid: u32) -> array<f32, TM * TN> {
  let n0 = tile_of(wid).x * BN;
  let m0 = tile_of(wid).y * BM;
  let tx = lid % (BN / TN);
  let ty = lid / (BN / TN);
  var acc = array<f32, TM * TN>();
  let kr = split_k_range(wid.z);
  var st: Staged; // (an empty split, past K where KC rounds up, loads nothing)
  if (kr.x < kr.y) { st = gemm_load(n0, m0, lid, kr.x, kr.y); }
  for (var k0 = kr.x; k0 < kr.y; k0 += BK) {
    gemm_store(lid, &st);
    workgroupBarrier();
    if (k0 + BK < kr.y) { st = gemm_load(n0, m0, lid, k0 + BK, kr.y); } // in flight during the FMAs
    for (var kk = 0u; kk < BK; kk++) {
      var a: array<vec4f, TM / 4u>;
      var b: array<vec4f, TN / 4u>;
      for (var g = 0u; g < TM / 4u; g++) { a[g] = xs[kk * (BM / 4u) + ty + g * (BM / TM)]; }
      for (var g = 0u; g < TN / 4u; g++) { b[g] = ws[kk * (BN / 4u) + tx + g * (BN / TN)]; }
      for (var i = 0u; i < TM; i++) {
        for (var j = 0u; j < TN; j++) {
          acc[i * TN + j] = fma(a[i / 4u][i % 4u], b[j / 4u][j % 4u], acc[i * TN + j]);
        }
      }
    }
    workgroupBarrier();
  }
  return acc;
}

// (y index, n) of sub-tile element (i, j) of invocation lid; y index NONE when outside [M, N].
fn gemm_out(wid: vec3u, lid: u32, i: u32, j: u32) -> vec2u {
  let m = tile_of(wid).y * BM + 4u * (lid / (BN / TN) + (i / 4u) * (BM / TM)) + i % 4u;
  let n = tile_of(wid).x * BN + 4u * (lid % (BN / TN) + (j / 4u) * (BN / TN)) + j % 4u;
  return select(vec2u(NONE), vec2u(m * params.N + n, n), m < params.M && n < params.N);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let acc = gemm_tile(wid, lid);
  for (var i = 0u; i < TM; i++) {
    for (var j = 0u; j < TN; j++) {
      let o = gemm_out(wid, lid, i, j);
      if (o.x != NONE) { y[o.x] = act_t(acc[i * TN + j]); }
    }
  }
}

@compute @workgroup_size(WG)
fn main_bias(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let acc = gemm_tile(wid, lid);
  for (var i = 0u; i < TM; i++) {
    for (var j = 0u; j < TN; j++) {
      let o = gemm_out(wid, lid, i, j);
      if (o.x != NONE) { y[o.x] = act_t(acc[i * TN + j] + bias[o.y]); }
    }
  }
}

// Split-K: this workgroup's partial tile, to part[z] (reduce_split adds the slices up).
@compute @workgroup_size(WG)
fn main_split(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let acc = gemm_tile(wid, lid);
  let base = wid.z * params.M * params.N;
  for (var i = 0u; i < TM; i++) {
    for (var j = 0u; j < TN; j++) {
      let o = gemm_out(wid, lid, i, j);
      if (o.x != NONE) { part[base + o.x] = acc[i * TN + j]; }
    }
  }
}
