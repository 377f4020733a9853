// Matmul on tensor cores (subgroup matrices): y[m, n] = sum_k x[m, k] * W[n, k] (+ bias[n]),
// f16 operands, f32 accumulation. Needs chromium-experimental-subgroup-matrix, shader-f16 and
// subgroups (enabled by the prelude), and a fixed subgroup size (SG_SIZE).
//
// Bindings (group 0):
//   0 x      [M, K] act_t                read, through x_unit (shaders/lib/tensor-x-*.wgsl)
//   1 w      [N, K] in its stored format read, through w_unit (shaders/lib/tensor-w-*.wgsl)
//   2 bias   [N]    f32                  read (main_bias only)
//   3 y      [M, N] act_t                write ([M, N / 2] for main_glu)
//   4 params Params { M, N, K, KC }
//   6 part   [SPLIT, M, N] f32           scratch, main_split only (shaders/lib/gemm-grid.wgsl)
// Prelude: enables; act_t; Params; generated consts SPLIT, SM, SN, SK (one of the device's f16 -> f32
// subgroup-matrix configs: left SM x SK, right SK x SN, result SM x SN), SG_M, SG_N (a grid of
// subgroups per workgroup), TI, TJ (result tiles per subgroup), BK (columns of K per step),
// SG_SIZE (the adapter's subgroup size), DB (0 or 1), PROD (producer subgroups, 0: none), K_TAIL (1 where K % BK != 0),
// GLU (1: the SwiGLU epilogue's row order, main_glu's); x's reader and f16 staging units
// (X_UNIT_QUADS, x_unit: lib/tensor-x-oct.wgsl, or lib/tensor-x-units.wgsl over a quad reader); a
// weight reader and its f16 staging units (W_UNIT_QUADS, w_unit, w_unit_quad: see
// lib/tensor-w-units.wgsl; f16 and Q4_0/Q8_0 decode straight to halves: without that each staged
// value went f16 -> f32 -> f16, and on NVIDIA conversions run at 1/8 of the FMA rate).
// Grid: (ceil(N / BN), ceil(M / BM), SPLIT), BM = SG_M*TI*SM, BN = SG_N*TJ*SN; a workgroup
// computes a BM x BN tile of y over the K columns of its split (split_k_range(z),
// gemm-grid.wgsl; all of K when SPLIT = 1). Per step of BK columns every invocation helps stage x[BM, BK] and
// W[BN, BK] (dequantized while loaded) as f16 in workgroup memory (rows padded by PAD halves
// against bank conflicts), then subgroup (sm, sn) multiplies its TI x TJ result tiles. The
// global loads of a step go to registers with constant trip counts (all in flight together) and
// are issued one step ahead, while the tensor cores work on the staged step: without that, each
// load waited for the previous one, and M = 32 ran at 1/8 of the M = 512 rate.
// Epilogue: each result tile goes through a per-subgroup f32 staging area, so that partial
// tiles at the M/N edges and the bias are handled by plain bounds-checked stores.
// Uniformity: subgroup-matrix offsets must be uniform, and a subgroup's offsets derive from
// local_invocation_index / SG_SIZE, which the analysis cannot prove uniform (it is uniform per
// subgroup when subgroups are consecutive invocations, as on the GPUs we know). The functions
// that use subgroup matrices, and the entry points that pass them `lid` (the analysis reports a
// callee's requirement at the call site), therefore turn the chromium.subgroup_matrix_uniformity
// diagnostic off; the tuner's validation rejects this kernel where the assumption fails.
// main_glu (GLU = 1, SPLIT = 1, TJ even): W stacks gate rows [0, F) over up rows [F, 2F), N = 2F,
// and y[m, f] = silu(x[m] . W[f]) * (x[m] . W[F + f]), f < F: a fused gate|up projection and its
// activation without the [M, N] product in memory. The tile's SN-row blocks of W alternate gate
// and up rows of the same outputs (w_row), so a subgroup's result tiles (i, j) and (i, j + 1), j
// even, hold the gate and up sums of SN outputs, and its lanes combine them in the epilogue.
// DB = 1 double-buffers the staged tiles (one barrier per step instead of two). PROD > 0 adds
// that many producer subgroups, which do all of the staging while the SG_M x SG_N others multiply
// (tc_accumulate_roles).
// Tunables: BK (a multiple of SK), PAD (override), SG_M, SG_N, TI (1, 2 or 4) and TJ (1 to 4), DB, PROD,
// the matrix config, SPLIT (split-K).
// Precision: x and W rounded to f16 (x values beyond f16 range become inf), products and sums
// in f32 on the tensor cores; only x and y storage is act_t.

override PAD: u32 = 8;
const BM = SG_M * TI * SM;
const BN = SG_N * TJ * SN;
const NC = SG_M * SG_N;                 // subgroups that multiply (subgroup sg < NC)
const WG = SG_SIZE * (NC + PROD);
const LW = select(WG, PROD * SG_SIZE, PROD > 0u); // invocations that stage: all, or the producers
const KQ = BK / 4u;                     // quads (4 columns) per staged row
const KX = KQ / X_UNIT_QUADS;          // x staging units per staged row (the x reader's)
const NXU = (BM * KX + LW - 1u) / LW;   // x units each staging invocation stages per step
const KU = KQ / W_UNIT_QUADS;          // W staging units per staged row (the W reader's)
const NWU = (BN * KU + LW - 1u) / LW;   // W units each staging invocation stages per step
override XS: u32 = BK + PAD; // row stride of the staged tiles, in halves
const X_BINDING = 0u;
const W_BINDING = 1u;
const NONE = 0xffffffffu;

@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<act_t>;
@group(0) @binding(4) var<uniform> params: Params;

var<workgroup> xt: array<f16, (1u + DB) * BM * XS>; // [1 + DB][BM, XS] f16: x tiles, row-major
var<workgroup> wt: array<f16, (1u + DB) * BN * XS>; // [1 + DB][BN, XS] f16: W tiles (= B column-major)
var<workgroup> ct: array<f32, NC * SM * SN>; // [multiplying subgroups, SM, SN] f32: epilogue staging

alias L = subgroup_matrix_left<f16, SK, SM>;
alias R = subgroup_matrix_right<f16, SN, SK>;
alias C = subgroup_matrix_result<f32, SN, SM>;

// The TI x TJ result tiles of one subgroup (TI in {1, 2, 4}, TJ 1 to 4), as named fields: an array of
// subgroup matrices indexed by loop counters can end up in local memory instead of registers.
// Fields past TI x TJ are never touched (the guards below are constant).
struct Acc {
  c00: C, c01: C, c02: C, c03: C,
  c10: C, c11: C, c12: C, c13: C,
  c20: C, c21: C, c22: C, c23: C,
  c30: C, c31: C, c32: C, c33: C,
}

struct Staged {
  x: array<vec4<f16>, NXU * X_UNIT_QUADS>, // unit j's quad e at j * X_UNIT_QUADS + e
  w: array<vec4<f16>, NWU * W_UNIT_QUADS>, // unit j's quad e at j * W_UNIT_QUADS + e
}

// W's row for row r (< BN) of the tile starting at n0: n0 + r, or with GLU the gate (even
// SN-row blocks) or up row (odd ones) of output n0 / 2 + (r / SN / 2) * SN + r % SN. Rows past the
// end are clamped (see tc_load).
fn w_row(n0: u32, r: u32) -> u32 {
  if (GLU == 0u) { return min(n0 + r, params.N - 1u); }
  let F = params.N / 2u;
  let b = r / SN;
  let f = min(n0 / 2u + (b / 2u) * SN + r % SN, F - 1u);
  return select(F + f, f, b % 2u == 0u);
}

// Staging invocation li's (of LW) quads of the x and W tiles at k0, read (and dequantized) into registers.
// Adjacent invocations take adjacent quads of one row: the global loads coalesce. Columns at or
// past kend (the end of this workgroup's split) load as zeros; where K is a multiple of BK
// (K_TAIL = 0) no step of a non-empty split reaches past kend (tc_accumulate loads nothing for an
// empty one). Rows past M and N are clamped rather than skipped: on the H200 the predicated
// loads (row and column checks) cost 20-30% of the kernel's time.
fn tc_load(wid: vec3u, li: u32, k0: u32, kend: u32) -> Staged {
  let n0 = tile_of(wid).x * BN;
  let m0 = tile_of(wid).y * BM;
  var st: Staged;
  for (var j = 0u; j < NXU; j++) {
    let i = li + j * LW;
    let r = i / KX;
    let u = (k0 >> 2u) / X_UNIT_QUADS + i % KX; // unit of the row: consecutive quads
    var v = array<vec4<f16>, X_UNIT_QUADS>();
    // rows past M read row M - 1 (their products land in rows the epilogue does not store)
    if (i < BM * KX && (K_TAIL == 0u || u * X_UNIT_QUADS * 4u < kend)) { v = x_unit(min(m0 + r, params.M - 1u), u); }
    for (var e = 0u; e < X_UNIT_QUADS; e++) { st.x[j * X_UNIT_QUADS + e] = v[e]; }
  }
  for (var j = 0u; j < NWU; j++) {
    let i = li + j * LW;
    let r = i / KU;
    let u = (k0 >> 2u) / W_UNIT_QUADS + i % KU; // unit of the row; k0 is a whole number of units
    var v = array<vec4<f16>, W_UNIT_QUADS>();
    // a unit lies inside one step, and inside or past kend as a whole (K steps and the split
    // ends are whole numbers of units)
    if (i < BN * KU && (K_TAIL == 0u || w_unit_quad(u, 0u) * 4u < kend)) { v = w_unit(w_row(n0, r), u); }
    for (var e = 0u; e < W_UNIT_QUADS; e++) { st.w[j * W_UNIT_QUADS + e] = v[e]; }
  }
  return st;
}

// Registers -> the f16 tiles of staging buffer `buf` in workgroup memory.
fn tc_store(li: u32, st: ptr<function, Staged>, buf: u32) {
  for (var j = 0u; j < NXU; j++) {
    let i = li + j * LW;
    if (i < BM * KX) {
      for (var e = 0u; e < X_UNIT_QUADS; e++) {
        let h = (*st).x[j * X_UNIT_QUADS + e];
        let o = buf * BM * XS + (i / KX) * XS + ((i % KX) * X_UNIT_QUADS + e) * 4u;
        xt[o] = h.x;
        xt[o + 1u] = h.y;
        xt[o + 2u] = h.z;
        xt[o + 3u] = h.w;
      }
    }
  }
  for (var j = 0u; j < NWU; j++) {
    let i = li + j * LW;
    if (i < BN * KU) {
      for (var e = 0u; e < W_UNIT_QUADS; e++) {
        let h = (*st).w[j * W_UNIT_QUADS + e];
        // the quad's column in the step: w_unit_quad of the unit counted within the step
        let o = buf * BN * XS + (i / KU) * XS + w_unit_quad(i % KU, e) * 4u;
        wt[o] = h.x;
        wt[o + 1u] = h.y;
        wt[o + 2u] = h.z;
        wt[o + 3u] = h.w;
      }
    }
  }
}

// The products of one staged step, whose tiles start at xo (in xt) and wo (in wt).
@diagnostic(off, chromium.subgroup_matrix_uniformity)
fn tc_step(acc: ptr<function, Acc>, lid: u32, xo: u32, wo: u32) {
  let sg = lid / SG_SIZE;
  let rb = xo + (sg / SG_N) * TI * SM * XS; // this subgroup's first row in the x tile
  let cb = wo + (sg % SG_N) * TJ * SN * XS; // and in the W tile
  for (var kk = 0u; kk < BK; kk += SK) {
    let b0 = subgroupMatrixLoad<R, col_major>(&wt, cb + kk, XS);
    var b1 = b0;
    var b2 = b0;
    var b3 = b0;
    if (TJ > 1u) { b1 = subgroupMatrixLoad<R, col_major>(&wt, cb + SN * XS + kk, XS); }
    if (TJ > 2u) { b2 = subgroupMatrixLoad<R, col_major>(&wt, cb + 2u * SN * XS + kk, XS); }
    if (TJ > 3u) { b3 = subgroupMatrixLoad<R, col_major>(&wt, cb + 3u * SN * XS + kk, XS); }
    var a = subgroupMatrixLoad<L, row_major>(&xt, rb + kk, XS);
    (*acc).c00 = subgroupMatrixMultiplyAccumulate(a, b0, (*acc).c00);
    if (TJ > 1u) { (*acc).c01 = subgroupMatrixMultiplyAccumulate(a, b1, (*acc).c01); }
    if (TJ > 2u) { (*acc).c02 = subgroupMatrixMultiplyAccumulate(a, b2, (*acc).c02); }
    if (TJ > 3u) { (*acc).c03 = subgroupMatrixMultiplyAccumulate(a, b3, (*acc).c03); }
    if (TI > 1u) {
      a = subgroupMatrixLoad<L, row_major>(&xt, rb + SM * XS + kk, XS);
      (*acc).c10 = subgroupMatrixMultiplyAccumulate(a, b0, (*acc).c10);
      if (TJ > 1u) { (*acc).c11 = subgroupMatrixMultiplyAccumulate(a, b1, (*acc).c11); }
      if (TJ > 2u) { (*acc).c12 = subgroupMatrixMultiplyAccumulate(a, b2, (*acc).c12); }
      if (TJ > 3u) { (*acc).c13 = subgroupMatrixMultiplyAccumulate(a, b3, (*acc).c13); }
    }
    if (TI > 2u) {
      a = subgroupMatrixLoad<L, row_major>(&xt, rb + 2u * SM * XS + kk, XS);
      (*acc).c20 = subgroupMatrixMultiplyAccumulate(a, b0, (*acc).c20);
      if (TJ > 1u) { (*acc).c21 = subgroupMatrixMultiplyAccumulate(a, b1, (*acc).c21); }
      if (TJ > 2u) { (*acc).c22 = subgroupMatrixMultiplyAccumulate(a, b2, (*acc).c22); }
      if (TJ > 3u) { (*acc).c23 = subgroupMatrixMultiplyAccumulate(a, b3, (*acc).c23); }
      a = subgroupMatrixLoad<L, row_major>(&xt, rb + 3u * SM * XS + kk, XS);
      (*acc).c30 = subgroupMatrixMultiplyAccumulate(a, b0, (*acc).c30);
      if (TJ > 1u) { (*acc).c31 = subgroupMatrixMultiplyAccumulate(a, b1, (*acc).c31); }
      if (TJ > 2u) { (*acc).c32 = subgroupMatrixMultiplyAccumulate(a, b2, (*acc).c32); }
      if (TJ > 3u) { (*acc).c33 = subgroupMatrixMultiplyAccumulate(a, b3, (*acc).c33); }
    }
  }
}

@diagnostic(off, chromium.subgroup_matrix_uniformity)
fn tc_accumulate(acc: ptr<function, Acc>, wid: vec3u, lid: u32) {
  if (PROD > 0u) {
    tc_accumulate_roles(acc, wid, lid);
    return;
  }
  let kr = split_k_range(wid.z);
  // (an empty split, past K where KC rounds up, loads nothing: unchecked columns would read past
  // the buffers; the uniform guard depends on wid.z only)
  var st: Staged;
  if (kr.x < kr.y) { st = tc_load(wid, lid, kr.x, kr.y); }
  if (DB == 0u) {
    // One staging buffer: store, wait, products, wait (the next step overwrites the tiles).
    for (var k0 = kr.x; k0 < kr.y; k0 += BK) {
      tc_store(lid, &st, 0u);
      workgroupBarrier();
      if (k0 + BK < kr.y) { st = tc_load(wid, lid, k0 + BK, kr.y); } // in flight during the products
      tc_step(acc, lid, 0u, 0u);
      workgroupBarrier();
    }
  } else {
    // Two staging buffers: step s computes on buffer s % 2 while the next step is stored into the
    // other one, whose last readers finished before the previous barrier: one barrier per step.
    tc_store(lid, &st, 0u);
    workgroupBarrier();
    var s = 0u;
    for (var k0 = kr.x; k0 < kr.y; k0 += BK) {
      let next = k0 + BK < kr.y;
      if (next) { st = tc_load(wid, lid, k0 + BK, kr.y); }
      tc_step(acc, lid, (s & 1u) * BM * XS, (s & 1u) * BN * XS);
      if (next) { tc_store(lid, &st, (s + 1u) & 1u); }
      workgroupBarrier();
      s++;
    }
  }
}

// PROD > 0: producer subgroups (sg >= NC) stage the next step while the NC multiplying subgroups
// work on the current one, so the staging's global loads overlap the products across subgroups
// instead of adding to them within each (the roles are uniform per subgroup; every invocation
// reaches every barrier). DB = 1: the producers store into the other buffer, one barrier per
// step; DB = 0: they load during the products and store between two barriers.
@diagnostic(off, chromium.subgroup_matrix_uniformity)
fn tc_accumulate_roles(acc: ptr<function, Acc>, wid: vec3u, lid: u32) {
  let kr = split_k_range(wid.z);
  let producer = lid >= NC * SG_SIZE;
  let li = lid - NC * SG_SIZE; // the producer's staging index (unused by the others)
  var st: Staged;
  if (producer && kr.x < kr.y) {
    st = tc_load(wid, li, kr.x, kr.y);
    tc_store(li, &st, 0u);
  }
  workgroupBarrier();
  var s = 0u;
  for (var k0 = kr.x; k0 < kr.y; k0 += BK) {
    let next = k0 + BK < kr.y;
    let buf = (s & 1u) * DB;
    if (producer) {
      if (next) {
        st = tc_load(wid, li, k0 + BK, kr.y);
        if (DB == 1u) { tc_store(li, &st, 1u - buf); }
      }
    } else {
      tc_step(acc, lid, buf * BM * XS, buf * BN * XS);
    }
    workgroupBarrier();
    if (DB == 0u) {
      if (producer && next) { tc_store(li, &st, 0u); }
      workgroupBarrier();
    }
    s++;
  }
}

// Stores result tile t of this subgroup to its staging area ct[sg] and waits for it.
@diagnostic(off, chromium.subgroup_matrix_uniformity)
fn tc_stage_result(acc: ptr<function, Acc>, t: u32, lid: u32) {
  var c = (*acc).c00;
  switch (t) {
    case 1u: { c = (*acc).c01; }
    case 2u: { c = (*acc).c02; }
    case 3u: { c = (*acc).c03; }
    case 4u: { c = (*acc).c10; }
    case 5u: { c = (*acc).c11; }
    case 6u: { c = (*acc).c12; }
    case 7u: { c = (*acc).c13; }
    case 8u: { c = (*acc).c20; }
    case 9u: { c = (*acc).c21; }
    case 10u: { c = (*acc).c22; }
    case 11u: { c = (*acc).c23; }
    case 12u: { c = (*acc).c30; }
    case 13u: { c = (*acc).c31; }
    case 14u: { c = (*acc).c32; }
    case 15u: { c = (*acc).c33; }
    default: {}
  }
  if (lid < NC * SG_SIZE) { subgroupMatrixStore<row_major>(&ct, (lid / SG_SIZE) * SM * SN, c, SN); }
  workgroupBarrier();
}

// Row of y of element e of result tile t (= 4 * i + j) of subgroup sg.
fn tc_row(wid: vec3u, sg: u32, t: u32, e: u32) -> u32 {
  return tile_of(wid).y * BM + (sg / SG_N) * TI * SM + (t / 4u) * SM + e / SN;
}

// (y index, n, staging index) of element e of result tile t (= 4 * i + j) of this subgroup;
// y index NONE when outside [M, N].
fn tc_out(wid: vec3u, lid: u32, t: u32, e: u32) -> vec3u {
  let sg = lid / SG_SIZE;
  let m = tc_row(wid, sg, t, e);
  let n = tile_of(wid).x * BN + (sg % SG_N) * TJ * SN + (t % 4u) * SN + e % SN;
  let inside = m < params.M && n < params.N;
  return vec3u(select(NONE, m * params.N + n, inside), n, sg * SM * SN + e);
}

@compute @workgroup_size(WG) @diagnostic(off, chromium.subgroup_matrix_uniformity)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  var acc: Acc;
  tc_accumulate(&acc, wid, lid);
  for (var t = 0u; t < 16u; t++) {
    if (t / 4u >= TI || t % 4u >= TJ) { continue; } // uniform: t and the consts only
    tc_stage_result(&acc, t, lid);
    for (var e = lid % SG_SIZE; lid < NC * SG_SIZE && e < SM * SN; e += SG_SIZE) {
      let o = tc_out(wid, lid, t, e);
      if (o.x != NONE) { y[o.x] = act_t(ct[o.z]); }
    }
    workgroupBarrier(); // staging is free for the next tile
  }
}

@compute @workgroup_size(WG) @diagnostic(off, chromium.subgroup_matrix_uniformity)
fn main_bias(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  var acc: Acc;
  tc_accumulate(&acc, wid, lid);
  for (var t = 0u; t < 16u; t++) {
    if (t / 4u >= TI || t % 4u >= TJ) { continue; } // uniform: t and the consts only
    tc_stage_result(&acc, t, lid);
    for (var e = lid % SG_SIZE; lid < NC * SG_SIZE && e < SM * SN; e += SG_SIZE) {
      let o = tc_out(wid, lid, t, e);
      if (o.x != NONE) { y[o.x] = act_t(ct[o.z] + bias[o.y]); }
    }
    workgroupBarrier();
  }
}

// Split-K: this workgroup's partial tiles, to part[z] (reduce_split adds the slices up).
@compute @workgroup_size(WG) @diagnostic(off, chromium.subgroup_matrix_uniformity)
fn main_split(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  var acc: Acc;
  tc_accumulate(&acc, wid, lid);
  let base = wid.z * params.M * params.N;
  for (var t = 0u; t < 16u; t++) {
    if (t / 4u >= TI || t % 4u >= TJ) { continue; } // uniform: t and the consts only
    tc_stage_result(&acc, t, lid);
    for (var e = lid % SG_SIZE; lid < NC * SG_SIZE && e < SM * SN; e += SG_SIZE) {
      let o = tc_out(wid, lid, t, e);
      if (o.x != NONE) { part[base + o.x] = ct[o.z]; }
    }
    workgroupBarrier();
  }
}

// SwiGLU epilogue (see the header): per pair of result tiles, the gate sums go through ct[sg] to
// each lane's registers, then the up sums, and lane e of the pair writes silu(gate) * up.
const GLU_PER_LANE = (SM * SN + SG_SIZE - 1u) / SG_SIZE;

@compute @workgroup_size(WG) @diagnostic(off, chromium.subgroup_matrix_uniformity)
fn main_glu(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  var acc: Acc;
  tc_accumulate(&acc, wid, lid);
  let sg = lid / SG_SIZE;
  let lane = lid % SG_SIZE;
  let mult = lid < NC * SG_SIZE; // producers (PROD) hold no sums
  let F = params.N / 2u;
  for (var t = 0u; t < 16u; t += 2u) {
    if (t / 4u >= TI || t % 4u >= TJ) { continue; } // uniform: t and the consts only
    tc_stage_result(&acc, t, lid);
    var g: array<f32, GLU_PER_LANE>;
    for (var k = 0u; k < GLU_PER_LANE; k++) {
      let e = lane + k * SG_SIZE;
      if (mult && e < SM * SN) { g[k] = ct[sg * SM * SN + e]; }
    }
    workgroupBarrier(); // every lane has its gate sums: ct[sg] takes the up tile
    tc_stage_result(&acc, t + 1u, lid);
    for (var k = 0u; k < GLU_PER_LANE; k++) {
      let e = lane + k * SG_SIZE;
      let m = tc_row(wid, sg, t, e);
      let f = tile_of(wid).x * (BN / 2u) + (sg % SG_N) * (TJ / 2u) * SN + (t % 4u / 2u) * SN + e % SN;
      if (mult && e < SM * SN && m < params.M && f < F) {
        let u = ct[sg * SM * SN + e];
        y[m * F + f] = act_t(g[k] / (1.0 + exp(-g[k])) * u);
      }
    }
    workgroupBarrier();
  }
}
