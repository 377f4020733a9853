// Selection library for shaders/sampling.wgsl: deterministic workgroup reductions and `search`,
// the threshold search behind top-k, top-p and top-n without sorting the vocabulary.
//
// Contract with the including kernel: it declares `override WG: u32` (a power of two), the mode
// constant M_TIE, the per-invocation privates g_vmax (largest value of the searched quantity) and
// g_vocab, and `fn elem(mode: u32, i: u32) -> Elem`: element i's order-preserving key, its weight
// (1 to count, softmax mass for top-p) and whether it takes part. All functions here contain
// barriers: call them from uniform control flow.
//
// search(mode, target): the largest key t with W(key >= t) >= target. Each pass evaluates
// W(key >= q) and the count at NP pivots q in one sweep over the row (per-invocation partial
// sums, then a fixed-shape tree: the same inputs always give the same bits), keeps the bracket
// [q_a, q_{a+1}) that holds t, and stops once the bracket holds <= CAP elements; those are
// gathered into workgroup memory, sorted by (key desc, id asc) and scanned from the top.
// Workgroup memory: NP*WG words (reused for CAP = 2*WG candidates of 3 words) + a few.

override CAP: u32 = 2u * WG;
const NP: u32 = 8u;
const NONE: u32 = 0xffffffffu;

struct Elem { key: u32, w: f32, ok: bool }

// Reduction scratch (NP values per invocation), reused for the gathered candidates (3 words each).
var<workgroup> sh: array<u32, NP * WG>;
var<workgroup> n_cand: atomic<u32>;
var<workgroup> bc: Bcast;

// Deterministic tree sum of NP values per invocation; every invocation gets the totals.
fn sum_np(li: u32, v: ptr<function, array<f32, NP>>) {
  for (var j = 0u; j < NP; j++) {
    sh[j * WG + li] = bitcast<u32>((*v)[j]);
  }
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (li < s) {
      for (var j = 0u; j < NP; j++) {
        let a = j * WG + li;
        sh[a] = bitcast<u32>(bitcast<f32>(sh[a]) + bitcast<f32>(sh[a + s]));
      }
    }
    workgroupBarrier();
  }
  for (var j = 0u; j < NP; j++) {
    (*v)[j] = bitcast<f32>(sh[j * WG]);
  }
  workgroupBarrier();
}

// Argmax over the workgroup: largest value, ties to the lowest index. Returns (value bits, index).
fn argmax_wg(li: u32, v: f32, idx: u32) -> vec2<u32> {
  sh[li] = bitcast<u32>(v);
  sh[WG + li] = idx;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (li < s) {
      let va = bitcast<f32>(sh[li]);
      let vb = bitcast<f32>(sh[li + s]);
      let ib = sh[WG + li + s];
      if (vb > va || (vb == va && ib < sh[WG + li])) {
        sh[li] = sh[li + s];
        sh[WG + li] = ib;
      }
    }
    workgroupBarrier();
  }
  let out = vec2<u32>(sh[0], sh[WG]);
  workgroupBarrier();
  return out;
}

// Log-sum-exp of (max, sum of exp(x - max)) pairs. Returns (max, sum).
fn lse_wg(li: u32, m: f32, s: f32) -> vec2<f32> {
  sh[li] = bitcast<u32>(m);
  sh[WG + li] = bitcast<u32>(s);
  workgroupBarrier();
  for (var st = WG / 2u; st > 0u; st = st >> 1u) {
    if (li < st) {
      let m1 = bitcast<f32>(sh[li]);
      let m2 = bitcast<f32>(sh[li + st]);
      let mm = max(m1, m2);
      let ss = bitcast<f32>(sh[WG + li]) * exp(m1 - mm) + bitcast<f32>(sh[WG + li + st]) * exp(m2 - mm);
      sh[li] = bitcast<u32>(mm);
      sh[WG + li] = bitcast<u32>(ss);
    }
    workgroupBarrier();
  }
  let out = vec2<f32>(bitcast<f32>(sh[0]), bitcast<f32>(sh[WG]));
  workgroupBarrier();
  return out;
}

struct Bcast {
  lo: u32, hi: u32, w_lo: f32, w_above: f32, c_above: f32, goal: f32, n_in: f32, state: u32,
  key: u32, w_ge: f32, w_gt: f32,
}
struct Found { key: u32, w_ge: f32, w_gt: f32 }

const S_NARROW: u32 = 0u;
const S_GATHER: u32 = 1u;
const S_ALL: u32 = 2u; // even the whole set weighs less than the goal: keep everything

fn unkey(k: u32) -> f32 {
  return bitcast<f32>(select(~k, k & 0x7fffffffu, (k & 0x80000000u) != 0u));
}

// q[0] = lo <= q[1] <= ... <= q[NP-1] <= hi. First pass: vmax - 32, -16, ..., -0.5 (where softmax
// mass lives). Then even splits of the bracket in value space, which follows the data; in key
// space where the values are not moderate or collapse (progress needs one pivot above lo).
fn pivots(first: bool, mode: u32, lo: u32, hi: u32) -> array<u32, NP> {
  var q = array<u32, NP>();
  q[0] = lo;
  let span = hi - lo;
  let vl = unkey(lo);
  let vh = unkey(hi);
  let by_value = mode != M_TIE && abs(vl) < 1e30 && abs(vh) < 1e30 && fkey(vl + (vh - vl) * (1.0 / f32(NP))) > lo;
  for (var j = 1u; j < NP; j++) {
    var p = lo + (span / NP) * j + min(j, span % NP);
    if (mode != M_TIE && first) {
      p = fkey(g_vmax - exp2(6.0 - f32(j)));
    } else if (by_value) {
      p = fkey(vl + (vh - vl) * (f32(j) / f32(NP)));
    }
    q[j] = clamp(p, q[j - 1u], hi);
  }
  return q;
}

fn cand_before(a: u32, b: u32) -> bool {
  let ka = sh[3u * a];
  let kb = sh[3u * b];
  return ka > kb || (ka == kb && sh[3u * a + 1u] < sh[3u * b + 1u]);
}

// Bitonic sort of the first m (a power of two, uniform) candidates.
fn sort_cands(li: u32, m: u32) {
  for (var k = 2u; k <= m; k = k << 1u) {
    for (var j = k >> 1u; j > 0u; j = j >> 1u) {
      for (var t = li; t < m; t += WG) {
        let p = t ^ j;
        if (p > t && cand_before(p, t) == ((t & k) == 0u)) {
          for (var w = 0u; w < 3u; w++) {
            let x = sh[3u * t + w];
            sh[3u * t + w] = sh[3u * p + w];
            sh[3u * p + w] = x;
          }
        }
      }
      workgroupBarrier();
    }
  }
}

// The largest key t with W(key >= t) >= goal over elem(mode) (goal = frac * total when frac > 0),
// with W(key >= t) and W(key > t). Call from uniform control flow.
fn search(mode: u32, count_target: f32, frac: f32, li: u32) -> Found {
  var lo = 0u;
  var hi = fkey(g_vmax);
  if (mode == M_TIE) {
    lo = NONE - (g_vocab - 1u);
    hi = NONE;
  }
  var goal = count_target;
  var w_above = 0.0; // W(key > hi)
  var c_above = 0.0;
  var first = true;
  var d: Bcast;
  loop {
    let q = pivots(first, mode, lo, hi);
    // Explicit zero constructors: a bare `var` in a loop body was seen keeping the previous pass's totals.
    var w = array<f32, NP>();
    var c = array<f32, NP>();
    for (var i = li; i < g_vocab; i += WG) {
      let e = elem(mode, i);
      if (e.ok && e.key >= lo) {
        for (var j = 0u; j < NP; j++) {
          if (e.key >= q[j]) {
            w[j] += e.w;
            c[j] += 1.0;
          }
        }
      }
    }
    sum_np(li, &w);
    sum_np(li, &c);
    if (li == 0u) {
      var t = goal;
      if (first && frac > 0.0) {
        t = frac * w[0];
      }
      var a = 0u;
      for (var j = 1u; j < NP; j++) {
        if (w[j] >= t) {
          a = j;
        }
      }
      var nb = NP; // the next distinct pivot above q[a] closes the bracket
      for (var j = NP - 1u; j > a; j = j - 1u) {
        if (q[j] > q[a]) {
          nb = j;
        }
      }
      var b = Bcast(q[a], hi, w[a], w_above, c_above, t, 0.0, S_NARROW, 0u, 0.0, 0.0);
      if (nb < NP) {
        b.hi = q[nb] - 1u;
        b.w_above = w[nb];
        b.c_above = c[nb];
      }
      b.n_in = c[a] - b.c_above;
      if (w[0] < t) {
        b = Bcast(lo, hi, w[0], 0.0, 0.0, t, 0.0, S_ALL, lo, w[0], 0.0);
      } else if (b.n_in <= f32(CAP) || b.lo == b.hi) {
        b.state = S_GATHER;
      }
      bc = b;
    }
    d = workgroupUniformLoad(&bc);
    lo = d.lo;
    hi = d.hi;
    w_above = d.w_above;
    c_above = d.c_above;
    goal = d.goal;
    first = false;
    if (d.state != S_NARROW) {
      break;
    }
  }
  if (d.state == S_ALL || d.n_in > f32(CAP)) {
    // Keep all; or one key holds more than CAP tied elements: that key is the answer.
    return Found(lo, d.w_lo, w_above);
  }
  if (li == 0u) {
    atomicStore(&n_cand, 0u);
  }
  workgroupBarrier();
  for (var i = li; i < g_vocab; i += WG) {
    let e = elem(mode, i);
    if (e.ok && e.key >= lo && e.key <= hi) {
      let s = atomicAdd(&n_cand, 1u);
      if (s < CAP) {
        sh[3u * s] = e.key;
        sh[3u * s + 1u] = i;
        sh[3u * s + 2u] = bitcast<u32>(e.w);
      }
    }
  }
  workgroupBarrier();
  let n = min(atomicLoad(&n_cand), CAP);
  // Sort only the next power of two above the bracket's count (d.n_in == n; d.n_in is uniform).
  let m = 1u << (32u - countLeadingZeros(max(u32(d.n_in), 2u) - 1u));
  for (var s = li; s < m; s += WG) {
    if (s >= n) {
      sh[3u * s] = 0u;
      sh[3u * s + 1u] = NONE;
      sh[3u * s + 2u] = 0u;
    }
  }
  workgroupBarrier();
  sort_cands(li, m);
  if (li == 0u) {
    // Walk down the sorted bracket by groups of equal keys (sorted by id: a fixed order of adds).
    var acc = w_above;
    var s = 0u;
    bc.key = lo;
    bc.w_gt = w_above;
    loop {
      if (s >= n) {
        break;
      }
      let key = sh[3u * s];
      let before = acc;
      loop {
        if (s >= n || sh[3u * s] != key) {
          break;
        }
        acc += bitcast<f32>(sh[3u * s + 2u]);
        s++;
      }
      bc.key = key;
      bc.w_gt = before;
      if (acc >= goal) {
        break;
      }
    }
    bc.w_ge = acc;
  }
  let r = workgroupUniformLoad(&bc);
  return Found(r.key, r.w_ge, r.w_gt);
}

