// Paged attention on tensor cores (subgroup matrices) for steps with prompt chunks: the contract
// of attention.wgsl's `main` (same bindings, uniforms, grid scheme and masking; see there), with
// q . k and p . v as 16x16x16 f16 -> f32 subgroup-matrix products. Needs shader-f16, subgroups,
// chromium-experimental-subgroup-matrix, an f16 cache and f16 activations (act_t = f16).
//
//   out[t, h, :] = sum_j softmax_j(cap(q[t, h] . k[j, h / G] * scale)) v[j, h / G, :]
//
// Prelude: enables; act_t; Params; attention-kv-f16.wgsl (kv_chunk: 8 halves per 16-byte load),
// attention-common.wgsl (bindings, MASKED, VALID_MIN, LOG2E), attention-tile.wgsl (find_tile,
// key_range, cache_chunk, load_kv); generated consts D (head dim, a multiple of 16), G (query
// heads per kv head, at most 16), NSG (subgroups per workgroup), TK (keys per step: 16, 32, 48 or 64),
// BLOCK_SIZE, SG_SIZE (the adapter's fixed subgroup size: 16, 32 or 64).
// Grid: attention.wgsl's, with TQ = NSG * QS queries per tile. Each subgroup takes 16 rows:
// QS = floor(16 / G) queries x the G query heads of the workgroup's kv head (row = query * G +
// head; rows past QS * G are padding, q zero and every key masked), so small tiles of queries
// still fill the matrices and short prompts still make many workgroups.
// One pass over the keys with a lazily moved softmax reference: each row keeps a reference max m
// and accumulates P = 2^(s - m) (f16) times V on the tensor cores, and its sum l in f32. A
// subgroup-matrix accumulator cannot be rescaled row by row in registers, so m moves only when a
// row's max passes m + RESCALE_LOG2 (P stays <= 2^RESCALE_LOG2, inside f16): then every
// subgroup's O tiles go through workgroup memory once, scaled by 2^(m_old - m_new) on their rows.
// The first keys of a row set m without that (O and l are still 0), so on typical scores the
// rescale never runs; a rescaling step is a workgroup-uniform branch (workgroupUniformLoad of the
// subgroups' flags) because it needs barriers. The epilogue writes O / l.
// Per key step, the scores of each subgroup's 16 rows go through its own f32 staging area (ss)
// where its lanes (SG_SIZE / 16 per row) apply scale, soft cap and the causal / window mask.
// The next step's K and V are loaded into registers while the current one computes.
// Uniformity: subgroup-matrix offsets derive from local_invocation_index / SG_SIZE (uniform per
// subgroup on the GPUs we know; see matmul-tensor.wgsl), so the functions using them turn
// chromium.subgroup_matrix_uniformity off. Every barrier is reached by the whole workgroup: the
// key loops depend on the tile only.
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
const RESCALE_LOG2 = 14.0;  // a row's reference max moves once its scores pass it by this (log2);
                            // P <= 2^14 stays below f16's largest, 65504

var<workgroup> qt: array<f16, NSG * SUB * KS>; // [NSG][16, KS] q rows of each subgroup
var<workgroup> kt: array<f16, TK * KS>;        // [TK, KS] keys of the step (= K^T column-major)
var<workgroup> vt: array<f16, TK * KS>;        // [TK, KS] values of the step
// [NSG][16, SSK] raw scores; the O tiles of the epilogue and of a rescale (at stride 16).
// [NSG][16, PS] probabilities 2^(s - m). Neither keeps its last row's padding: those 32 bytes
// hold the rescale flags and let Llama's heads (4 subgroups, headDim 128) take 32-key steps
// within 48 KiB.
var<workgroup> ss: array<f32, NSG * SUB * SSK - (SSK - TK)>;
var<workgroup> pt: array<f16, NSG * SUB * PS - PAD>;

// Per subgroup: 1 when this step moves the reference max of a row that has keys already. Padded
// to 16 bytes: every workgroup array keeps a size of whole 16 bytes, or the matrix loads and
// stores of the arrays placed after it lose their alignment (an 8-byte array here left O at zero
// in 1- and 2-subgroup workgroups on the H200).
var<workgroup> grew: array<u32, (NSG + 3u) / 4u * 4u>;

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
      for (var e = 0u; e < 8u; e++) { kt[o + e] = hk[e]; }
      let hv = chunk_halves(vreg[l]);
      for (var e = 0u; e < 8u; e++) { vt[o + e] = hv[e]; }
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

// O tile n of this subgroup -> ss[sg] (16 x 16 at stride 16).
@diagnostic(off, chromium.subgroup_matrix_uniformity)
fn stage_o(acc: ptr<function, Acc>, n: u32, lid: u32) {
  var c = (*acc).o0;
  switch (n) {
    case 1u: { c = (*acc).o1; }
    case 2u: { c = (*acc).o2; }
    case 3u: { c = (*acc).o3; }
    case 4u: { c = (*acc).o4; }
    case 5u: { c = (*acc).o5; }
    case 6u: { c = (*acc).o6; }
    case 7u: { c = (*acc).o7; }
    case 8u: { c = (*acc).o8; }
    case 9u: { c = (*acc).o9; }
    case 10u: { c = (*acc).o10; }
    case 11u: { c = (*acc).o11; }
    case 12u: { c = (*acc).o12; }
    case 13u: { c = (*acc).o13; }
    case 14u: { c = (*acc).o14; }
    case 15u: { c = (*acc).o15; }
    default: {}
  }
  subgroupMatrixStore<row_major>(&ss, (lid / SG_SIZE) * SUB * SSK, c, SUB);
}

// ss[sg] (16 x 16 at stride 16) -> O tile n of this subgroup.
@diagnostic(off, chromium.subgroup_matrix_uniformity)
fn load_o(acc: ptr<function, Acc>, n: u32, lid: u32) {
  let c = subgroupMatrixLoad<C, row_major>(&ss, (lid / SG_SIZE) * SUB * SSK, SUB);
  switch (n) {
    case 0u: { (*acc).o0 = c; }
    case 1u: { (*acc).o1 = c; }
    case 2u: { (*acc).o2 = c; }
    case 3u: { (*acc).o3 = c; }
    case 4u: { (*acc).o4 = c; }
    case 5u: { (*acc).o5 = c; }
    case 6u: { (*acc).o6 = c; }
    case 7u: { (*acc).o7 = c; }
    case 8u: { (*acc).o8 = c; }
    case 9u: { (*acc).o9 = c; }
    case 10u: { (*acc).o10 = c; }
    case 11u: { (*acc).o11 = c; }
    case 12u: { (*acc).o12 = c; }
    case 13u: { (*acc).o13 = c; }
    case 14u: { (*acc).o14 = c; }
    case 15u: { (*acc).o15 = c; }
    default: {}
  }
}

// O's rows times f (each lane passes its row's factor), tile by tile through ss[sg]. Called
// by the whole workgroup (its barriers); ss holds no scores then.
fn rescale_o(acc: ptr<function, Acc>, f: f32, lid: u32) {
  let lane = lid % SG_SIZE;
  let o = (lid / SG_SIZE) * SUB * SSK + (lane / LPR) * SUB;
  for (var n = 0u; n < DS; n++) {
    stage_o(acc, n, lid);
    workgroupBarrier();
    for (var c = lane % LPR; c < SUB; c += LPR) { ss[o + c] *= f; }
    workgroupBarrier();
    load_o(acc, n, lid);
    workgroupBarrier();
  }
}

// First key of the i-th of a tile's `steps` key steps: the last step (the diagonal's keys) first,
// then the rest in order from the first (attention sinks). Those two tend to hold a row's largest
// scores, in trained models and random ones alike, so m settles early and rarely moves later.
fn step_key(kr: vec2<u32>, steps: u32, i: u32) -> u32 {
  return kr.x + ((i + steps - 1u) % steps) * TK;
}

// One key step: the staged K and V of t0 to workgroup memory, the loads of the next step (at
// tNext; none when past kr.y) issued, the scores, and this lane's logits (the two barriers: the
// tiles are staged, the scores are in ss).
fn step_logits(tl: Tile, kr: vec2<u32>, t0: u32, tNext: u32, lid: u32, btRow: u32) -> array<f32, CPL> {
  stage_kv(lid);
  workgroupBarrier();
  if (tNext < kr.y) { load_kv(tl, tNext, kr.y, lid, btRow); }
  scores(lid);
  workgroupBarrier();
  let lane = lid % SG_SIZE;
  return lane_logits(tl, lid / SG_SIZE, lane / LPR, (lane % LPR) * CPL, t0, kr.y);
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
  let btRow = tl.seq * params.maxBlocksPerSeq;
  stage_q(tl, lid);

  var m = MASKED; // the row's reference max (alike in its LPR lanes)
  var l = 0.0;    // this lane's columns' part of the row's sum of 2^(s - m)
  var acc: Acc;
  let steps = (kr.y - kr.x + TK - 1u) / TK;
  load_kv(tl, step_key(kr, steps, 0u), kr.y, lid, btRow);
  for (var i = 0u; i < steps; i++) {
    let tNext = select(kr.y, step_key(kr, steps, i + 1u), i + 1u < steps);
    let sv = step_logits(tl, kr, step_key(kr, steps, i), tNext, lid, btRow);
    var mt = MASKED;
    for (var c = 0u; c < CPL; c++) { mt = max(mt, sv[c]); }
    for (var x = 1u; x < LPR; x <<= 1u) { mt = max(mt, subgroupShuffleXor(mt, x)); }
    // A row whose max outgrew m moves m there; its l and O scale by f (O only where it has keys
    // already: a row's first keys just set m).
    var f = 1.0;
    let moves = mt > m + RESCALE_LOG2;
    let scaleO = subgroupAny(moves && m > VALID_MIN);
    if (moves) {
      f = select(0.0, exp2(m - mt), m > VALID_MIN);
      m = mt;
    }
    l *= f;
    for (var c = 0u; c < CPL; c++) {
      let p = select(0.0, exp2(sv[c] - m), sv[c] > VALID_MIN);
      l += p;
      pt[(sg * SUB + row) * PS + c0 + c] = f16(p);
    }
    if (lane == 0u) { grew[sg] = u32(scaleO); }
    let g = workgroupUniformLoad(&grew); // also the barrier before P V: pt is staged
    var anyGrew = false;
    for (var s = 0u; s < NSG; s++) { anyGrew = anyGrew || g[s] != 0u; }
    if (anyGrew) { rescale_o(&acc, f, lid); }
    accumulate_pv(&acc, lid);
    workgroupBarrier(); // kt, vt, pt and grew are free for the next step
  }
  for (var x = 1u; x < LPR; x <<= 1u) { l += subgroupShuffleXor(l, x); }

  // Epilogue: O / l, tile by tile through ss[sg]; lanes of a row take 4-column groups.
  let qi = row_query(sg, row);
  let inv = select(0.0, 1.0 / l, l > 0.0);
  for (var n = 0u; n < DS; n++) {
    stage_o(&acc, n, lid);
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
}
