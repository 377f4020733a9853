// Paged attention for decode steps (one query per sequence), built for KV bandwidth: no staging
// of K/V in workgroup memory and no barrier per key tile. Same maths as attention.wgsl:
//   out[s, h, :] = sum_j softmax_j(cap(q[s, h] . k[j, h / G] * scale)) v[j, h / G, :]
// over keys j of sequence s in [max(0, seqLen - window), seqLen) (query position seqLen - 1).
//
// Entry points:
//   main        writes out (normalized, act_t)
//   main_split  workgroup z handles keys [z * partitionSize, (z+1) * partitionSize) and writes
//               unnormalized partials in attention.wgsl's layout; attention-reduce.wgsl combines.
// Bindings (group 0): attention-common.wgsl's, as in attention.wgsl (0 q, 1 kCache, 2 vCache,
//   3 blockTables, 4 queryStartLoc, 5 seqLens, 6 out | 7 partOut + 8 partMl, 9 params).
// Prelude: act_t, Params, the KV library (kv_chunk, KV_CHUNK, kv_chunk_lo/hi), a math library
//   (mvec, mscalar, kv_m: see Arithmetic), attention-common.wgsl
//   (bindings, MASKED / VALID_MIN / LOG2E), `enable subgroups`,
//   and generated consts D, G, BLOCK_SIZE, SG (the adapter's fixed subgroup size), LPK (lanes per
//   key, a power of two <= SG), NW (subgroups per workgroup), U (keys per lane per iteration),
//   CH (keys per block-table chunk: a multiple of BLOCK_SIZE).
// Grid: (numSeqs, numKvHeads, 1 | numSplits); every sequence of the step has exactly one query.
//
// Mapping: lane = (key slot kg, dim slice c): the LPK lanes of a key slot each hold D / LPK dims
//   of q (G rows, in registers) and read the same dims of their key, so a key row is read by
//   consecutive lanes as one contiguous run. A subgroup covers KPS = SG / LPK keys per slot, U
//   slots per iteration; the NW subgroups take interleaved slots. Per key: partial dot products
//   (G rows), summed over the key's LPK lanes with subgroupShuffleXor; then every lane runs its
//   own online softmax (m, l per row, in log2 units) and accumulates p * v for its dims. The
//   block-table entries of CH keys are staged in workgroup memory once per chunk, so a key's
//   load waits on one memory trip, not two. At the end the key slots of a subgroup are merged
//   with shuffles, the subgroups through workgroup memory.
// Uniformity: subgroup shuffles run in control flow that depends only on workgroup_id, params and
//   constants; per-key validity is a select, never a branch around a shuffle. Lanes are
//   identified as local_invocation_index % SG and subgroups as / SG, which holds where subgroups
//   are consecutive invocations (the GPUs we know); the conformance suite checks it per adapter.
// Arithmetic (the math library in the prelude, attention-decode-math-*.wgsl): mvec / mscalar are
//   the vector and scalar types q, K and V are multiplied in, kv_m(chunk, j) gives the j-th vec4
//   of dims of a chunk in mvec. f32 math unpacks K/V to f32; f16 math (f16 cache and activations)
//   multiplies the cache's halves as they are, so a key costs no conversions.
// Precision: softmax, the sums over lanes and the output accumulator in f32. With f32 math,
//   q . k and p * v in f32 too; with f16 math, q . k in f16 over 4 dims at a time and p * v in
//   f16 over the U keys of one iteration, each then added in f32.

const KPS = SG / LPK;                     // keys per subgroup per slot
const CPL = D / (LPK * KV_CHUNK);         // 16-byte chunks per lane per key
const NV = CPL * (KV_CHUNK / 4u);         // vec4s of head dims per lane
const CV = D / KV_CHUNK;                  // 16-byte chunks per key row
const DV = D / 4u;
const WG = SG * NW;
const KPI = KPS * NW * U;                 // keys per workgroup iteration
const BT_N = CH / BLOCK_SIZE;             // block-table entries per chunk

var<workgroup> bt: array<u32, BT_N>;          // block ids of the current chunk of keys
var<workgroup> wml: array<vec2<f32>, NW * G>; // per subgroup and row: (m, l)
var<workgroup> wacc: array<vec4<f32>, NW * G * DV>; // per subgroup and row: unnormalized p * v

// Issues the K/V loads of the U keys of this lane in the iteration at `it` (chunk at cb, valid
// keys [lo, hi)); an invalid slot reads key lo instead (masked later), so no load is skipped.
fn load_keys(kx: ptr<function, array<kv_chunk, U * CPL>>, vx: ptr<function, array<kv_chunk, U * CPL>>, it: u32, cb: u32, lo: u32, hi: u32, kvh: u32, kg: u32, c: u32, warp: u32) {
  for (var u = 0u; u < U; u++) {
    let p = it + (u * NW + warp) * KPS + kg;
    let pc = select(lo, p, p >= lo && p < hi);
    let src = ((bt[(pc - cb) / BLOCK_SIZE] * params.numKvHeads + kvh) * BLOCK_SIZE + pc % BLOCK_SIZE) * CV + c * CPL;
    for (var j = 0u; j < CPL; j++) {
      (*kx)[u * CPL + j] = kCache[src + j];
      (*vx)[u * CPL + j] = vCache[src + j];
    }
  }
}

// The online softmax over keys [kLo, kHi) of sequence s, then the merge of all lanes' states
// into wml / wacc (then a barrier). All per-lane state lives in function-scope arrays indexed
// by constant-trip loops, so the compiler keeps it in registers.
fn attend(s: u32, kvh: u32, kLo: u32, kHi: u32, lid: u32) {
  let lane = lid % SG;
  let warp = lid / SG;
  let kg = lane / LPK;
  let c = lane % LPK;
  let token = queryStartLoc[s];
  // Scores are kept in log2 units: q carries LOG2E too, unless the soft cap needs natural units.
  let qScale = select(params.scale * LOG2E, params.scale, params.softcap > 0.0);
  var qr: array<mvec, G * NV>;  // this lane's dims of the G query rows, * qScale
  var acc: array<vec4<f32>, G * NV>;
  var mrow: array<f32, G>;
  var lsum: array<f32, G>;
  for (var r = 0u; r < G; r++) {
    for (var v = 0u; v < NV; v++) {
      qr[r * NV + v] = mvec(vec4<f32>(q[params.qOffset + token * params.qStride + (kvh * G + r) * DV + c * NV + v]) * qScale);
      acc[r * NV + v] = vec4<f32>(0.0);
    }
    mrow[r] = MASKED;
    lsum[r] = 0.0;
  }
  let btRow = s * params.maxBlocksPerSeq;
  // Chunks start on a block boundary, so key p's block is bt[(p - cb) / BLOCK_SIZE].
  for (var cb = (kLo / BLOCK_SIZE) * BLOCK_SIZE; cb < kHi; cb += CH) {
    workgroupBarrier(); // the previous chunk's table is no longer read
    for (var i = lid; i < BT_N; i += WG) {
      let b = cb / BLOCK_SIZE + i;
      bt[i] = select(0u, blockTables[btRow + b], b < params.maxBlocksPerSeq);
    }
    workgroupBarrier();
    let lo = max(kLo, cb);
    let hi = min(kHi, cb + CH);
    // Software pipeline: the next iteration's K/V loads are issued before this one computes.
    // (Measured on an H200: unpacking the whole iteration's K and V first, then prefetching,
    // read KV 1.26x faster than copying the raw words and unpacking per key, and 1.9x faster
    // than no prefetch with per-row unpacking.)
    var kx: array<kv_chunk, U * CPL>;
    var vx: array<kv_chunk, U * CPL>;
    load_keys(&kx, &vx, cb, cb, lo, hi, kvh, kg, c, warp);
    for (var it = cb; it < hi; it += KPI) {
      var kf: array<mvec, U * NV>; // this iteration's keys and values, unpacked once
      var vf: array<mvec, U * NV>;
      var valid: array<bool, U>;
      for (var u = 0u; u < U; u++) {
        let p = it + (u * NW + warp) * KPS + kg;
        valid[u] = p >= lo && p < hi;
        for (var v = 0u; v < NV; v++) {
          kf[u * NV + v] = kv_m(kx[u * CPL + v / (KV_CHUNK / 4u)], v);
          vf[u * NV + v] = kv_m(vx[u * CPL + v / (KV_CHUNK / 4u)], v);
        }
      }
      if (it + KPI < hi) { load_keys(&kx, &vx, it + KPI, cb, lo, hi, kvh, kg, c, warp); }
      // partial dot products of every (key, row), then the shuffle rounds over all of them
      // together (independent shuffles overlap instead of waiting on each other)
      var d: array<f32, U * G>;
      for (var u = 0u; u < U; u++) {
        for (var r = 0u; r < G; r++) {
          var t = 0.0;
          for (var v = 0u; v < NV; v++) { t += f32(dot(qr[r * NV + v], kf[u * NV + v])); }
          d[u * G + r] = t;
        }
      }
      for (var o = LPK / 2u; o > 0u; o >>= 1u) {
        for (var i = 0u; i < U * G; i++) { d[i] += subgroupShuffleXor(d[i], o); }
      }
      // online softmax per row, p * v for this lane's dims
      for (var r = 0u; r < G; r++) {
        var mt = MASKED;
        for (var u = 0u; u < U; u++) {
          var x = d[u * G + r];
          if (params.softcap > 0.0) { x = params.softcap * LOG2E * tanh(clamp(x / params.softcap, -15.0, 15.0)); }
          x = select(MASKED, x, valid[u]);
          d[u * G + r] = x;
          mt = max(mt, x);
        }
        let mNew = max(mrow[r], mt);
        // exp2(MASKED - mBase) underflows to 0, before any valid key (mNew still MASKED) too
        let mBase = select(mNew, 0.0, mNew <= VALID_MIN);
        let alpha = exp2(mrow[r] - mBase);
        mrow[r] = mNew;
        var l = lsum[r] * alpha;
        var pv = array<mvec, NV>(); // this iteration's sum of p * v (zeros)
        for (var u = 0u; u < U; u++) {
          let pr = exp2(d[u * G + r] - mBase);
          l += pr;
          let pm = mscalar(pr);
          for (var v = 0u; v < NV; v++) { pv[v] += pm * vf[u * NV + v]; }
        }
        for (var v = 0u; v < NV; v++) { acc[r * NV + v] = acc[r * NV + v] * alpha + vec4<f32>(pv[v]); }
        lsum[r] = l;
      }
    }
  }
  // Merge: the key slots of a subgroup by shuffles (lanes with the same dims c), then the
  // subgroups through workgroup memory.
  for (var r = 0u; r < G; r++) {
    var m = mrow[r];
    for (var o = LPK; o < SG; o <<= 1u) { m = max(m, subgroupShuffleXor(m, o)); }
    let f = select(0.0, exp2(mrow[r] - m), mrow[r] > VALID_MIN);
    var l = lsum[r] * f;
    for (var o = LPK; o < SG; o <<= 1u) { l += subgroupShuffleXor(l, o); }
    for (var v = 0u; v < NV; v++) {
      var a = acc[r * NV + v] * f;
      for (var o = LPK; o < SG; o <<= 1u) { a += subgroupShuffleXor(a, o); }
      acc[r * NV + v] = a;
    }
    mrow[r] = m;
    lsum[r] = l;
  }
  if (lane < LPK) { // key slot 0 now holds the subgroup's sums
    for (var r = 0u; r < G; r++) {
      if (lane == 0u) { wml[warp * G + r] = vec2<f32>(mrow[r], lsum[r]); }
      for (var v = 0u; v < NV; v++) { wacc[(warp * G + r) * DV + lane * NV + v] = acc[r * NV + v]; }
    }
  }
  workgroupBarrier();
}

struct Merged {
  m: f32,
  l: f32,
  a: vec4<f32>,
}

// Row r, dims vector dv over all subgroups (after merge).
fn merged(r: u32, dv: u32) -> Merged {
  var m = MASKED;
  for (var w = 0u; w < NW; w++) { m = max(m, wml[w * G + r].x); }
  var l = 0.0;
  var a = vec4<f32>(0.0);
  for (var w = 0u; w < NW; w++) {
    let ml = wml[w * G + r];
    let f = select(0.0, exp2(ml.x - m), ml.x > VALID_MIN);
    l += ml.y * f;
    a += wacc[(w * G + r) * DV + dv] * f;
  }
  return Merged(m, l, a);
}

// First key the query attends to (sliding window), and one past the last.
fn key_range(s: u32) -> vec2<u32> {
  let n = seqLens[s];
  var lo = 0u;
  if (params.window > 0u && n > params.window) { lo = n - params.window; }
  return vec2<u32>(lo, n);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let s = wid.x;
  let kr = key_range(s);
  attend(s, wid.y, kr.x, kr.y, lid);
  let numHeads = params.numKvHeads * G;
  let token = queryStartLoc[s];
  for (var t = lid; t < G * DV; t += WG) {
    let r = t / DV;
    let mg = merged(r, t % DV);
    out[(token * numHeads + wid.y * G + r) * DV + t % DV] = vec4<act_t>(mg.a / mg.l);
  }
}

@compute @workgroup_size(WG)
fn main_split(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let s = wid.x;
  let kr = key_range(s);
  let split0 = wid.z * params.partitionSize;
  let kLo = max(kr.x, split0);
  let kHi = max(kLo, min(kr.y, split0 + params.partitionSize)); // empty: partials (-3e38, 0, 0)
  attend(s, wid.y, kLo, kHi, lid);
  let numHeads = params.numKvHeads * G;
  let token = queryStartLoc[s];
  for (var t = lid; t < G * DV; t += WG) {
    let r = t / DV;
    let mg = merged(r, t % DV);
    let row = wid.z * params.numTokens * numHeads + token * numHeads + wid.y * G + r;
    partOut[row * DV + t % DV] = mg.a;
    if (t % DV == 0u) {
      partMl[2u * row] = mg.m;
      partMl[2u * row + 1u] = mg.l;
    }
  }
}
