// Paged attention over a mixed batch (prefill chunks with a cached prefix, and decodes), with
// grouped-query heads, online softmax, optional sliding window and logit soft cap.
//
//   sequence s has queries q rows queryStartLoc[s] .. queryStartLoc[s+1] (ql of them) and seqLen
//   = seqLens[s] keys in the cache (this step's included: KV write ran first). Query i sits at
//   pos = seqLen - ql + i and attends to keys j with j <= pos (and j > pos - window if window > 0):
//     out[t, h, :] = sum_j softmax_j(cap(q[t, h] . k[j, h / G] * scale)) v[j, h / G, :]
//
// Entry points:
//   main        writes out (normalized, act_t): the whole key range in one workgroup.
//   main_split  split-KV ("flash decoding"): workgroup z handles keys [z * partitionSize,
//               (z+1) * partitionSize) and writes unnormalized partials; attention-reduce.wgsl
//               combines them.
//
// Bindings (group 0, declared in attention-common.wgsl); vectors are 4 head dims (headDim D is a
// multiple of 4):
//   0 q             act_t rows read through a view: (t, h, :) at qOffset + t * qStride + h * D/4
//                   (q may be a view into a fused qkv buffer)
//   1 kCache        [numBlocks, numKvHeads, BLOCK_SIZE, D] kv dtype   read
//   2 vCache        [numBlocks, numKvHeads, BLOCK_SIZE, D] kv dtype   read
//   3 blockTables   [numSeqs, maxBlocksPerSeq] u32 (row stride = params.maxBlocksPerSeq)
//   4 queryStartLoc [numSeqs + 1] u32
//   5 seqLens       [numSeqs] u32
//   6 out           [numTokens, numHeads, D] act_t          write (main)
//   7 partOut       [numSplits, numTokens, numHeads, D] f32 write (main_split): unnormalized sum p*v
//   8 partMl        [numSplits, numTokens, numHeads, 2] f32 write (main_split): (max, sum p), max in
//                   log2 units; an empty split writes (-3e38, 0)
//   9 params        Params { numTokens, numSeqs, maxBlocksPerSeq, numKvHeads, qOffset, qStride,
//                   scale, softcap, window, partitionSize }
// Prelude: act_t, Params, kv_chunk + KV_CHUNK + kv_chunk_lo/hi (attention-kv-f32.wgsl |
//   attention-kv-f16.wgsl: an f16 cache is read 8 dims per 16-byte load, so D % 8 == 0 there),
//   attention-common.wgsl (the bindings, MASKED / VALID_MIN / LOG2E), attention-tile.wgsl (find_tile,
//   key_range: which queries and keys a workgroup takes; load_kv: a key tile into kreg / vreg).
//
// Why this cache layout: one workgroup reads one kv head, and head-major blocks make that a
// contiguous run of BLOCK_SIZE * D elements per block (the same bytes as token-major, fewer
// strided segments). KV write scatters per token either way.
//
// Grid: (floor(numTokens / TQ) + numSeqs, numKvHeads, 1 | numSplits). Workgroup x is a tile of
//   TQ queries of one sequence, found by binary search over queryStartLoc: sequence s owns the
//   tile ids from floor(queryStartLoc[s] / TQ) + s, so the grid needs no per-step table; ids past
//   a sequence's last tile exit at once. One workgroup holds the R = TQ * G rows (TQ queries x the
//   G query heads of its kv head), so K and V are read once per group.
// Per key tile of TK keys: the next tile's K, V are loaded into registers while this one
//   computes (NL 16-byte chunks per invocation); this tile's are staged in workgroup memory as
//   f32 -> scores S[R, TK] (a thread per key column, SR rows each) -> row max and P = 2^(S - m)
//   (same threads) -> O += P V (a thread per 4 output dims, OR rows each; the row sums l ride
//   along). Four barriers per tile.
// Tunables (override): TQ (queries per tile), TK (keys per tile), WG (invocations).
// Constants: D, G, BLOCK_SIZE (static per model); SR, OR and the array sizes are derived here and
//   checked by src/kernels/attention-shape.ts (SR, OR <= MAX_ROWS, NL <= MAX_LOADS, workgroup
//   memory within the limit).
// Precision: q . k, softmax (in log2 units) and P V in f32; K/V converted to f32 when staged.

override D: u32 = 128;
override G: u32 = 1;
override TQ: u32 = 1;
override TK: u32 = 32;
override WG: u32 = 128;
override BLOCK_SIZE: u32 = 16;

override DV: u32 = D / 4u;
override R: u32 = TQ * G;
override NRS: u32 = min(WG / TK, R);        // score row sets (threads per key column)
override SR: u32 = (R + NRS - 1u) / NRS;    // score rows per thread
override NRO: u32 = min(WG / DV, R);        // output row sets
override OR: u32 = (R + NRO - 1u) / NRO;    // output rows per thread
override RPAD: u32 = max(SR * NRS, OR * NRO); // rows incl. padding (padding rows are all masked)
override QS_N: u32 = RPAD * DV;
override KS_N: u32 = TK * (DV + 1u);        // +1 vector per key row: column reads avoid bank conflicts
override VS_N: u32 = TK * DV;
override SP_N: u32 = RPAD * TK;
override CV: u32 = D / KV_CHUNK;            // 16-byte chunks per key row (D % KV_CHUNK == 0)
override NL: u32 = (TK * CV + WG - 1u) / WG; // K (and V) chunks each invocation loads per tile

const MAX_ROWS = 16u;
const MAX_LOADS = 16u;

var<workgroup> qs: array<vec4<f32>, QS_N>;  // [RPAD, DV] q * scale
var<workgroup> ks: array<vec4<f32>, KS_N>;  // [TK, DV + 1]
var<workgroup> vs: array<vec4<f32>, VS_N>;  // [TK, DV]
var<workgroup> ss: array<f32, SP_N>;        // [RPAD, TK] logits (log2 units) or MASKED
var<workgroup> ps: array<f32, SP_N>;        // [RPAD, TK] 2^(s - m)
var<workgroup> alphas: array<f32, RPAD>;    // per row rescale of O and l for this key tile

// Per-invocation state that the entry points store (registers after unrolling).
var<private> acc: array<vec4<f32>, MAX_ROWS>; // output rows ors + j * NRO
var<private> lsum: array<f32, MAX_ROWS>;
var<private> mrow: array<f32, MAX_ROWS>;      // score rows srs + j * NRS
var<private> kreg: array<kv_chunk, MAX_LOADS>; // the next key tile, in flight while this one computes
var<private> vreg: array<kv_chunk, MAX_LOADS>;

// Registers -> workgroup memory (f32): K rows padded by one vector, V rows dense.
fn stage_tile(lid: u32) {
  for (var l = 0u; l < NL; l++) {
    let i = lid + l * WG;
    if (i < TK * CV) {
      let kk = i / CV;
      let dv = (i % CV) * (KV_CHUNK / 4u);
      ks[kk * (DV + 1u) + dv] = kv_chunk_lo(kreg[l]);
      vs[kk * DV + dv] = kv_chunk_lo(vreg[l]);
      if (KV_CHUNK == 8u) {
        ks[kk * (DV + 1u) + dv + 1u] = kv_chunk_hi(kreg[l]);
        vs[kk * DV + dv + 1u] = kv_chunk_hi(vreg[l]);
      }
    }
  }
}

// Logits of key column sk for rows srs + j * NRS, in log2 units, or MASKED.
fn score_tile(tl: Tile, t0: u32, kHi: u32, sk: u32, srs: u32) {
  var sacc: array<f32, MAX_ROWS>;
  for (var j = 0u; j < SR; j++) { sacc[j] = 0.0; }
  for (var dv = 0u; dv < DV; dv++) {
    let kx = ks[sk * (DV + 1u) + dv];
    for (var j = 0u; j < SR; j++) {
      sacc[j] += dot(qs[(srs + j * NRS) * DV + dv], kx);
    }
  }
  let kp = t0 + sk;
  for (var j = 0u; j < SR; j++) {
    let r = srs + j * NRS;
    let qi = r / G;
    let qpos = tl.pos0 + qi;
    var s = sacc[j];
    if (params.softcap > 0.0) {
      s = params.softcap * tanh(clamp(s / params.softcap, -15.0, 15.0));
    }
    let valid = r < R && qi < tl.nq && kp < kHi && kp <= qpos && (params.window == 0u || kp + params.window > qpos);
    ss[r * TK + sk] = select(MASKED, s * LOG2E, valid);
  }
}

// Row max over the tile, new running max, probabilities of column sk, and (column 0) the rescale
// of the rows' running sums. Each score thread redoes its rows' max: cheaper than another
// barrier round. This loop and the P V loop run over all TK columns (masked ones add nothing):
// constant trip counts unroll, which made the kernel 1.75x faster on an H200 than stopping at
// the last valid key.
fn softmax_tile(sk: u32, srs: u32) {
  for (var j = 0u; j < SR; j++) {
    let r = srs + j * NRS;
    var mt = MASKED;
    for (var kk = 0u; kk < TK; kk++) { mt = max(mt, ss[r * TK + kk]); }
    let mOld = mrow[j];
    let mNew = max(mOld, mt);
    let s = ss[r * TK + sk];
    ps[r * TK + sk] = select(0.0, exp2(s - mNew), s > VALID_MIN);
    if (sk == 0u) { alphas[r] = select(0.0, exp2(mOld - mNew), mOld > VALID_MIN); }
    mrow[j] = mNew;
  }
}

// O = O * alpha + P V for dims odv of rows ors + j * NRO; the row sums l ride along.
fn accumulate_tile(odv: u32, ors: u32) {
  for (var j = 0u; j < OR; j++) {
    let a = alphas[ors + j * NRO];
    acc[j] *= a;
    lsum[j] *= a;
  }
  for (var kk = 0u; kk < TK; kk++) {
    let vx = vs[kk * DV + odv];
    for (var j = 0u; j < OR; j++) {
      let p = ps[(ors + j * NRO) * TK + kk];
      acc[j] += p * vx;
      lsum[j] += p;
    }
  }
}

// Runs the online softmax over keys [kLo, kHi) for the tile's rows into acc / lsum / mrow.
fn attend(tl: Tile, kLo: u32, kHi: u32, lid: u32) {
  for (var i = lid; i < QS_N; i += WG) {
    let r = i / DV;
    let qi = r / G;
    var x = vec4<f32>(0.0);
    if (r < R && qi < tl.nq) {
      let head = tl.kvh * G + r % G;
      x = vec4<f32>(q[params.qOffset + (tl.token0 + qi) * params.qStride + head * DV + i % DV]) * params.scale;
    }
    qs[i] = x;
  }
  for (var j = 0u; j < MAX_ROWS; j++) {
    acc[j] = vec4<f32>(0.0);
    lsum[j] = 0.0;
    mrow[j] = MASKED;
  }
  let sk = lid % TK;   // score mapping: key column sk, rows srs + j * NRS
  let srs = lid / TK;
  let odv = lid % DV;  // output mapping: dims odv, rows ors + j * NRO
  let ors = lid / DV;
  let btRow = tl.seq * params.maxBlocksPerSeq;
  if (kLo < kHi) { load_kv(tl, kLo, kHi, lid, btRow); }
  for (var t0 = kLo; t0 < kHi; t0 += TK) {
    stage_tile(lid);
    workgroupBarrier();
    if (t0 + TK < kHi) { load_kv(tl, t0 + TK, kHi, lid, btRow); }

    // Threads past NRS score row sets (or NRO output row sets) idle until the next barrier.
    if (srs < NRS) { score_tile(tl, t0, kHi, sk, srs); }
    workgroupBarrier();
    if (srs < NRS) { softmax_tile(sk, srs); }
    workgroupBarrier();
    if (ors < NRO) { accumulate_tile(odv, ors); }
    workgroupBarrier();
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let tl = find_tile(wid, lid);
  if (tl.nq == 0u) { return; }
  let kr = key_range(tl);
  attend(tl, kr.x, kr.y, lid);
  let odv = lid % DV;
  let ors = lid / DV;
  if (ors >= NRO) { return; }
  let numHeads = params.numKvHeads * G;
  for (var j = 0u; j < OR; j++) {
    let r = ors + j * NRO;
    let qi = r / G;
    if (r < R && qi < tl.nq) {
      let head = tl.kvh * G + r % G;
      out[((tl.token0 + qi) * numHeads + head) * DV + odv] = vec4<act_t>(acc[j] / lsum[j]);
    }
  }
}

@compute @workgroup_size(WG)
fn main_split(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let tl = find_tile(wid, lid);
  if (tl.nq == 0u) { return; }
  let kr = key_range(tl);
  let split0 = wid.z * params.partitionSize;
  let kLo = max(kr.x, split0);
  let kHi = max(kLo, min(kr.y, split0 + params.partitionSize)); // empty range: partials stay (-3e38, 0, 0)
  attend(tl, kLo, kHi, lid);
  let numHeads = params.numKvHeads * G;
  let rowBase = wid.z * params.numTokens * numHeads; // first (token, head) row of this split
  let sk = lid % TK;
  let srs = lid / TK;
  if (sk == 0u && srs < NRS) {
    for (var j = 0u; j < SR; j++) {
      let r = srs + j * NRS;
      let qi = r / G;
      if (r < R && qi < tl.nq) {
        partMl[2u * (rowBase + (tl.token0 + qi) * numHeads + tl.kvh * G + r % G)] = mrow[j];
      }
    }
  }
  let odv = lid % DV;
  let ors = lid / DV;
  if (ors >= NRO) { return; }
  for (var j = 0u; j < OR; j++) {
    let r = ors + j * NRO;
    let qi = r / G;
    if (r < R && qi < tl.nq) {
      let row = rowBase + (tl.token0 + qi) * numHeads + tl.kvh * G + r % G;
      partOut[row * DV + odv] = acc[j];
      if (odv == 0u) { partMl[2u * row + 1u] = lsum[j]; }
    }
  }
}
