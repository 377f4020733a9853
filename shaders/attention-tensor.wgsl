// Paged attention on tensor cores (subgroup matrices) for steps with prompt chunks: the contract
// of attention.wgsl's `main` (same bindings, uniforms, grid scheme and masking; see there), with
// q . k and p . v as 16x16x16 f16 -> f32 subgroup-matrix products. Needs shader-f16, subgroups,
// chromium-experimental-subgroup-matrix, an f16 cache and f16 activations (act_t = f16).
//
//   out[t, h, :] = sum_j softmax_j(cap(q[t, h] . k[j, h / G] * scale)) v[j, h / G, :]
//
// Prelude: enables; act_t; Params; attention-kv-f16.wgsl (kv_chunk: 8 halves per 16-byte load),
// attention-common.wgsl (bindings, MASKED, VALID_MIN, LOG2E), attention-tile.wgsl (find_tile,
// key_range, cache_chunk); generated consts D (head dim, a multiple of 16), G (query heads per
// kv head, at most 16), NSG (subgroups per workgroup), TK (keys per step: 16, 32, 48 or 64),
// BLOCK_SIZE, SG_SIZE (the adapter's fixed subgroup size: 16, 32 or 64).
// Grid: attention.wgsl's, with TQ = NSG * QS queries per tile. Each subgroup takes 16 rows:
// QS = floor(16 / G) queries x the G query heads of the workgroup's kv head (row = query * G +
// head; rows past QS * G are padding, q zero and every key masked), so small tiles of queries
// still fill the matrices and short prompts still make many workgroups.
// One pass over the keys with a lazy online softmax: a row's P = 2^(s - m) is taken against a
// reference m that moves only when the row's max passes it by more than TAU (log2 units), so
// P <= 2^TAU stays well inside f16. Only then must O be rescaled, and a subgroup-matrix
// accumulator cannot be scaled row by row, so O goes through ss (store, scale rows, load) in
// those steps (in practice a few early ones: each move multiplies the reference by 2^TAU).
// Per key step, the scores of each subgroup's 16 rows go through its own f32 staging area (ss)
// where its lanes (SG_SIZE / 16 per row) apply scale, soft cap and the causal / window mask.
// The next step's K and V are loaded into registers while the current one computes.
// Uniformity: subgroup-matrix offsets derive from local_invocation_index / SG_SIZE (uniform per
// subgroup on the GPUs we know; see matmul-tensor.wgsl), so the functions using them turn
// chromium.subgroup_matrix_uniformity off. Every barrier is reached by the whole workgroup: the
// key loop depends on the tile only, and whether O is rescaled is read back uniformly.
// Precision: q, K, V are f16 (as stored), scores and softmax in f32, P rounded to f16 for the
// product, O accumulated in f32 and divided by l in f32.

const SUB = 16u;            // the subgroup-matrix edge
const PAD = 8u;             // halves of padding per staged row (bank conflicts of matrix loads)
const QS = SUB / G;         // queries per subgroup
const TQ = NSG * QS;        // queries per tile (attention-tile.wgsl)
const WG = NSG * SG_SIZE;
const DS = D / SUB;         // 16-column slabs of a head
const DV = D / 4u;          // vec4s per head row in q and out
const KS = D + PAD;         // row stride of qt, kt, vt (halves)
const PS = TK + PAD;        // row stride of pt (halves)
const SSK = TK + 4u;        // row stride of ss (f32): rows stay 16-byte aligned, and apart in banks
const CV = D / KV_CHUNK;    // 16-byte chunks per cached key row
const NL = (TK * CV + WG - 1u) / WG; // K (and V) chunks each invocation loads per step
const LPR = SG_SIZE / SUB;  // lanes per score row
const CPL = TK / LPR;       // score columns per lane
const OPL = SUB / LPR;      // columns of a 16 x 16 O tile per lane
const TAU = 8.0;            // log2 growth of a row's max tolerated before O is rescaled

// The last rows' padding of qt and ss is left out (never read): those 32 bytes let Llama's heads
// (4 subgroups, headDim 128) take 32-key steps, with the rescale flags, within 48 KiB.
var<workgroup> qt: array<f16, NSG * SUB * KS - PAD>; // [NSG][16, KS] q rows of each subgroup
var<workgroup> kt: array<f16, TK * KS>;        // [TK, KS] keys of the step (= K^T column-major)
var<workgroup> vt: array<f16, TK * KS>;        // [TK, KS] values of the step
// [NSG][16, SSK] raw scores; O tiles (at stride 16) when O is rescaled and in the epilogue
var<workgroup> ss: array<f32, NSG * SUB * SSK - (SSK - TK)>;
var<workgroup> pt: array<f16, NSG * SUB * PS>; // [NSG][16, PS] probabilities 2^(s - m)
// Per subgroup: O needs rescaling this step. Whole 16-byte units: with 4 or 8 bytes here (1 or 2
// subgroups) the H200 computed wrong outputs, as if the tiles of the other variables had moved.
var<workgroup> grown: array<u32, (NSG + 3u) / 4u * 4u>;

var<private> kreg: array<kv_chunk, NL>; // the next step's keys, in flight while this one computes
var<private> vreg: array<kv_chunk, NL>;

alias L = subgroup_matrix_left<f16, SUB, SUB>;
alias RM = subgroup_matrix_right<f16, SUB, SUB>;
alias C = subgroup_matrix_result<f32, SUB, SUB>;

// O of one subgroup's rows: DS tiles of 16 x 16, as named fields (an array of matrices indexed by
// loop counters may land in local memory); fields past DS are never touched (constant guards).
struct Acc {
  o0: C, o1: C, o2: C, o3: C, o4: C, o5: C, o6: C, o7: C,
  o8: C, o9: C, o10: C, o11: C, o12: C, o13: C, o14: C, o15: C,
}

// Query index in the tile (0..TQ) of row `row` (0..16) of subgroup sg, or TQ for a padding row
// (never below the tile's query count), and the row's head.
fn row_query(sg: u32, row: u32) -> u32 {
  return select(TQ, sg * QS + row / G, row < QS * G);
}

fn row_head(tl: Tile, row: u32) -> u32 {
  return tl.kvh * G + row % G;
}

// q rows of every subgroup -> qt (rows past the tile's queries are zeros).
fn stage_q(tl: Tile, lid: u32) {
  for (var i = lid; i < NSG * SUB * DV; i += WG) {
    let r = i / DV; // row of qt: subgroup r / 16, row r % 16
    let sg = r / SUB;
    let qi = row_query(sg, r % SUB);
    var x = vec4<f16>(0.0);
    if (qi < tl.nq) {
      x = vec4<f16>(q[params.qOffset + (tl.token0 + qi) * params.qStride + row_head(tl, r % SUB) * DV + i % DV]);
    }
    let o = r * KS + (i % DV) * 4u;
    qt[o] = x.x;
    qt[o + 1u] = x.y;
    qt[o + 2u] = x.z;
    qt[o + 3u] = x.w;
  }
}

// The step's keys and values at t0 into registers; keys at or past kHi load as zeros.
fn load_kv(tl: Tile, t0: u32, kHi: u32, lid: u32) {
  let btRow = tl.seq * params.maxBlocksPerSeq;
  for (var l = 0u; l < NL; l++) {
    let i = lid + l * WG;
    let p = t0 + i / CV;
    var kx = kv_chunk();
    var vx = kv_chunk();
    if (i < TK * CV && p < kHi) {
      let src = cache_chunk(tl, btRow, p, i % CV);
      kx = kCache[src];
      vx = vCache[src];
    }
    kreg[l] = kx;
    vreg[l] = vx;
  }
}

// One 16-byte cache chunk as its 8 halves.
fn chunk_halves(c: kv_chunk) -> array<f16, 8> {
  let a = bitcast<vec2<f16>>(c.x);
  let b = bitcast<vec2<f16>>(c.y);
  let e = bitcast<vec2<f16>>(c.z);
  let f = bitcast<vec2<f16>>(c.w);
  return array<f16, 8>(a.x, a.y, b.x, b.y, e.x, e.y, f.x, f.y);
}

// Registers -> kt and vt.
fn stage_kv(lid: u32) {
  for (var l = 0u; l < NL; l++) {
    let i = lid + l * WG;
    if (i < TK * CV) {
      let o = (i / CV) * KS + (i % CV) * KV_CHUNK;
      let hk = chunk_halves(kreg[l]);
      let hv = chunk_halves(vreg[l]);
      for (var e = 0u; e < 8u; e++) {
        kt[o + e] = hk[e];
        vt[o + e] = hv[e];
      }
    }
  }
}

fn zero_result() -> C {
  var z: C;
  return z;
}

// Raw scores q . k of this subgroup's 16 rows against the step's TK keys -> ss[sg].
@diagnostic(off, chromium.subgroup_matrix_uniformity)
fn scores(lid: u32) {
  let sg = lid / SG_SIZE;
  // One accumulator per 16 keys (TK <= 64), advanced together slab by slab: independent chains
  // of products, and q's slab loaded once for all of them. (An uninitialized `var c: C;` inside
  // a loop kept the previous iteration's sums on the H200: hence the fresh zero matrices.)
  var c0 = zero_result();
  var c1 = zero_result();
  var c2 = zero_result();
  var c3 = zero_result();
  for (var s = 0u; s < DS; s++) {
    let a = subgroupMatrixLoad<L, row_major>(&qt, sg * SUB * KS + s * SUB, KS);
    c0 = subgroupMatrixMultiplyAccumulate(a, subgroupMatrixLoad<RM, col_major>(&kt, s * SUB, KS), c0);
    if (TK > 16u) { c1 = subgroupMatrixMultiplyAccumulate(a, subgroupMatrixLoad<RM, col_major>(&kt, SUB * KS + s * SUB, KS), c1); }
    if (TK > 32u) { c2 = subgroupMatrixMultiplyAccumulate(a, subgroupMatrixLoad<RM, col_major>(&kt, 2u * SUB * KS + s * SUB, KS), c2); }
    if (TK > 48u) { c3 = subgroupMatrixMultiplyAccumulate(a, subgroupMatrixLoad<RM, col_major>(&kt, 3u * SUB * KS + s * SUB, KS), c3); }
  }
  let o = sg * SUB * SSK;
  subgroupMatrixStore<row_major>(&ss, o, c0, SSK);
  if (TK > 16u) { subgroupMatrixStore<row_major>(&ss, o + SUB, c1, SSK); }
  if (TK > 32u) { subgroupMatrixStore<row_major>(&ss, o + 2u * SUB, c2, SSK); }
  if (TK > 48u) { subgroupMatrixStore<row_major>(&ss, o + 3u * SUB, c3, SSK); }
}

// The logits (log2 units, or MASKED) of this lane's CPL score columns c0.. of its row, for the
// keys from t0 + c0.
fn lane_logits(tl: Tile, sg: u32, row: u32, c0: u32, t0: u32, kHi: u32) -> array<f32, CPL> {
  let qi = row_query(sg, row);
  let qpos = tl.pos0 + qi;
  var out: array<f32, CPL>;
  for (var c = 0u; c < CPL; c++) {
    var s = ss[(sg * SUB + row) * SSK + c0 + c] * params.scale;
    if (params.softcap > 0.0) {
      s = params.softcap * tanh(clamp(s / params.softcap, -15.0, 15.0));
    }
    let kp = t0 + c0 + c;
    let valid = qi < tl.nq && kp < kHi && kp <= qpos && (params.window == 0u || kp + params.window > qpos);
    out[c] = select(MASKED, s * LOG2E, valid);
  }
  return out;
}

// O += P V for this subgroup's rows: P's slab a (16 rows x 16 keys) times the value rows at vo.
@diagnostic(off, chromium.subgroup_matrix_uniformity)
fn pv_slab(acc: ptr<function, Acc>, a: L, vo: u32) {
  (*acc).o0 = subgroupMatrixMultiplyAccumulate(a, subgroupMatrixLoad<RM, row_major>(&vt, vo, KS), (*acc).o0);
  if (DS > 1u) { (*acc).o1 = subgroupMatrixMultiplyAccumulate(a, subgroupMatrixLoad<RM, row_major>(&vt, vo + 16u, KS), (*acc).o1); }
  if (DS > 2u) { (*acc).o2 = subgroupMatrixMultiplyAccumulate(a, subgroupMatrixLoad<RM, row_major>(&vt, vo + 32u, KS), (*acc).o2); }
  if (DS > 3u) { (*acc).o3 = subgroupMatrixMultiplyAccumulate(a, subgroupMatrixLoad<RM, row_major>(&vt, vo + 48u, KS), (*acc).o3); }
  if (DS > 4u) { (*acc).o4 = subgroupMatrixMultiplyAccumulate(a, subgroupMatrixLoad<RM, row_major>(&vt, vo + 64u, KS), (*acc).o4); }
  if (DS > 5u) { (*acc).o5 = subgroupMatrixMultiplyAccumulate(a, subgroupMatrixLoad<RM, row_major>(&vt, vo + 80u, KS), (*acc).o5); }
  if (DS > 6u) { (*acc).o6 = subgroupMatrixMultiplyAccumulate(a, subgroupMatrixLoad<RM, row_major>(&vt, vo + 96u, KS), (*acc).o6); }
  if (DS > 7u) { (*acc).o7 = subgroupMatrixMultiplyAccumulate(a, subgroupMatrixLoad<RM, row_major>(&vt, vo + 112u, KS), (*acc).o7); }
  if (DS > 8u) { (*acc).o8 = subgroupMatrixMultiplyAccumulate(a, subgroupMatrixLoad<RM, row_major>(&vt, vo + 128u, KS), (*acc).o8); }
  if (DS > 9u) { (*acc).o9 = subgroupMatrixMultiplyAccumulate(a, subgroupMatrixLoad<RM, row_major>(&vt, vo + 144u, KS), (*acc).o9); }
  if (DS > 10u) { (*acc).o10 = subgroupMatrixMultiplyAccumulate(a, subgroupMatrixLoad<RM, row_major>(&vt, vo + 160u, KS), (*acc).o10); }
  if (DS > 11u) { (*acc).o11 = subgroupMatrixMultiplyAccumulate(a, subgroupMatrixLoad<RM, row_major>(&vt, vo + 176u, KS), (*acc).o11); }
  if (DS > 12u) { (*acc).o12 = subgroupMatrixMultiplyAccumulate(a, subgroupMatrixLoad<RM, row_major>(&vt, vo + 192u, KS), (*acc).o12); }
  if (DS > 13u) { (*acc).o13 = subgroupMatrixMultiplyAccumulate(a, subgroupMatrixLoad<RM, row_major>(&vt, vo + 208u, KS), (*acc).o13); }
  if (DS > 14u) { (*acc).o14 = subgroupMatrixMultiplyAccumulate(a, subgroupMatrixLoad<RM, row_major>(&vt, vo + 224u, KS), (*acc).o14); }
  if (DS > 15u) { (*acc).o15 = subgroupMatrixMultiplyAccumulate(a, subgroupMatrixLoad<RM, row_major>(&vt, vo + 240u, KS), (*acc).o15); }
}

@diagnostic(off, chromium.subgroup_matrix_uniformity)
fn accumulate_pv(acc: ptr<function, Acc>, lid: u32) {
  let sg = lid / SG_SIZE;
  for (var j = 0u; j < TK / SUB; j++) {
    pv_slab(acc, subgroupMatrixLoad<L, row_major>(&pt, sg * SUB * PS + j * SUB, PS), j * SUB * KS);
  }
}

// One O tile of this subgroup times its rows' factors (this lane's row: alpha), through ss[sg]
// (16 x 16 at stride 16).
@diagnostic(off, chromium.subgroup_matrix_uniformity)
fn scaled_tile(c: C, alpha: f32, lid: u32) -> C {
  let lane = lid % SG_SIZE;
  let base = (lid / SG_SIZE) * SUB * SSK;
  subgroupMatrixStore<row_major>(&ss, base, c, SUB);
  workgroupBarrier();
  let o = base + (lane / LPR) * SUB + (lane % LPR) * OPL;
  for (var e = 0u; e < OPL; e++) { ss[o + e] *= alpha; }
  workgroupBarrier();
  let r = subgroupMatrixLoad<C, row_major>(&ss, base, SUB);
  workgroupBarrier();
  return r;
}

// O's rows times alpha, tile by tile (named fields, no dynamic index: O stays in registers).
fn rescale_o(acc: ptr<function, Acc>, alpha: f32, lid: u32) {
  (*acc).o0 = scaled_tile((*acc).o0, alpha, lid);
  if (DS > 1u) { (*acc).o1 = scaled_tile((*acc).o1, alpha, lid); }
  if (DS > 2u) { (*acc).o2 = scaled_tile((*acc).o2, alpha, lid); }
  if (DS > 3u) { (*acc).o3 = scaled_tile((*acc).o3, alpha, lid); }
  if (DS > 4u) { (*acc).o4 = scaled_tile((*acc).o4, alpha, lid); }
  if (DS > 5u) { (*acc).o5 = scaled_tile((*acc).o5, alpha, lid); }
  if (DS > 6u) { (*acc).o6 = scaled_tile((*acc).o6, alpha, lid); }
  if (DS > 7u) { (*acc).o7 = scaled_tile((*acc).o7, alpha, lid); }
  if (DS > 8u) { (*acc).o8 = scaled_tile((*acc).o8, alpha, lid); }
  if (DS > 9u) { (*acc).o9 = scaled_tile((*acc).o9, alpha, lid); }
  if (DS > 10u) { (*acc).o10 = scaled_tile((*acc).o10, alpha, lid); }
  if (DS > 11u) { (*acc).o11 = scaled_tile((*acc).o11, alpha, lid); }
  if (DS > 12u) { (*acc).o12 = scaled_tile((*acc).o12, alpha, lid); }
  if (DS > 13u) { (*acc).o13 = scaled_tile((*acc).o13, alpha, lid); }
  if (DS > 14u) { (*acc).o14 = scaled_tile((*acc).o14, alpha, lid); }
  if (DS > 15u) { (*acc).o15 = scaled_tile((*acc).o15, alpha, lid); }
}

// O tile n / l -> out, through ss[sg]; lanes of a row take 4-column groups.
@diagnostic(off, chromium.subgroup_matrix_uniformity)
fn write_tile(c: C, n: u32, tl: Tile, inv: f32, lid: u32) {
  let sg = lid / SG_SIZE;
  let lane = lid % SG_SIZE;
  let row = lane / LPR;
  let qi = row_query(sg, row);
  subgroupMatrixStore<row_major>(&ss, sg * SUB * SSK, c, SUB);
  workgroupBarrier();
  for (var v = lane % LPR; v < SUB / 4u; v += LPR) {
    let o = sg * SUB * SSK + row * SUB + v * 4u;
    if (qi < tl.nq) {
      let x = vec4<f32>(ss[o], ss[o + 1u], ss[o + 2u], ss[o + 3u]) * inv;
      out[((tl.token0 + qi) * params.numKvHeads * G + row_head(tl, row)) * DV + n * 4u + v] = vec4<act_t>(x);
    }
  }
  workgroupBarrier();
}

@compute @workgroup_size(WG) @diagnostic(off, chromium.subgroup_matrix_uniformity)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let tl = find_tile(wid, lid);
  if (tl.nq == 0u) { return; }
  let kr = key_range(tl);
  let sg = lid / SG_SIZE;
  let lane = lid % SG_SIZE;
  let row = lane / LPR;          // this lane's score row (of its subgroup's 16)
  let c0 = (lane % LPR) * CPL;   // and its first score column
  stage_q(tl, lid);

  var m = MASKED; // the row's reference (log2 units): every P = 2^(s - m) <= 2^TAU
  var l = 0.0;    // this lane's part of the row's sum of P
  var acc: Acc;
  load_kv(tl, kr.x, kr.y, lid);
  for (var t0 = kr.x; t0 < kr.y; t0 += TK) {
    stage_kv(lid);
    workgroupBarrier();
    if (t0 + TK < kr.y) { load_kv(tl, t0 + TK, kr.y, lid); }
    scores(lid);
    workgroupBarrier();
    let sv = lane_logits(tl, sg, row, c0, t0, kr.y);
    var mt = MASKED;
    for (var c = 0u; c < CPL; c++) { mt = max(mt, sv[c]); }
    for (var x = 1u; x < LPR; x <<= 1u) { mt = max(mt, subgroupShuffleXor(mt, x)); }
    // The reference moves when the row's max passes it by more than TAU; O holds sums taken
    // against the old one only if the row had a valid key before.
    var alpha = 1.0;
    let moves = mt > m + TAU;
    let costly = moves && m > VALID_MIN;
    if (moves) {
      alpha = select(0.0, exp2(m - mt), m > VALID_MIN);
      m = mt;
    }
    l *= alpha;
    for (var c = 0u; c < CPL; c++) {
      let p = select(0.0, exp2(sv[c] - m), sv[c] > VALID_MIN);
      pt[(sg * SUB + row) * PS + c0 + c] = f16(p);
      l += p;
    }
    let anyCostly = subgroupAny(costly);
    if (lane == 0u) { grown[sg] = select(0u, 1u, anyCostly); }
    // (a barrier: pt and the flags are visible, every lane has read ss)
    let flags = workgroupUniformLoad(&grown);
    var rescale = false;
    for (var i = 0u; i < NSG; i++) { rescale = rescale || flags[i] != 0u; }
    if (rescale) { rescale_o(&acc, alpha, lid); }
    accumulate_pv(&acc, lid);
    workgroupBarrier(); // kt, vt and pt are free for the next step
  }
  for (var x = 1u; x < LPR; x <<= 1u) { l += subgroupShuffleXor(l, x); }

  // Epilogue: O / l, tile by tile.
  let inv = select(0.0, 1.0 / l, l > 0.0);
  write_tile(acc.o0, 0u, tl, inv, lid);
  if (DS > 1u) { write_tile(acc.o1, 1u, tl, inv, lid); }
  if (DS > 2u) { write_tile(acc.o2, 2u, tl, inv, lid); }
  if (DS > 3u) { write_tile(acc.o3, 3u, tl, inv, lid); }
  if (DS > 4u) { write_tile(acc.o4, 4u, tl, inv, lid); }
  if (DS > 5u) { write_tile(acc.o5, 5u, tl, inv, lid); }
  if (DS > 6u) { write_tile(acc.o6, 6u, tl, inv, lid); }
  if (DS > 7u) { write_tile(acc.o7, 7u, tl, inv, lid); }
  if (DS > 8u) { write_tile(acc.o8, 8u, tl, inv, lid); }
  if (DS > 9u) { write_tile(acc.o9, 9u, tl, inv, lid); }
  if (DS > 10u) { write_tile(acc.o10, 10u, tl, inv, lid); }
  if (DS > 11u) { write_tile(acc.o11, 11u, tl, inv, lid); }
  if (DS > 12u) { write_tile(acc.o12, 12u, tl, inv, lid); }
  if (DS > 13u) { write_tile(acc.o13, 13u, tl, inv, lid); }
  if (DS > 14u) { write_tile(acc.o14, 14u, tl, inv, lid); }
  if (DS > 15u) { write_tile(acc.o15, 15u, tl, inv, lid); }
}
