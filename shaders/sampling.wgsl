// GPU sampling: one token per row of a step's logits (and its logprobs when asked).
//
// Bindings (group 0):
//   0 logits     [numRows, vocabSize]             act_t read        lm_head output of the sampling positions
//   1 row_meta   [maxNumSeqs*16 + 2*maxBias]      u32   read        rows (16 words each, below), then the
//                                                                   logit-bias entries (token, f32 bits) from
//                                                                   params.biasOffset; written once per step
//   2 counts     [maxNumSeqs, vocabSize]          u32   read_write  penalty bins per SLOT: bit 31 = in the prompt,
//                                                                   bits 0..30 = times in the output. Filled at
//                                                                   admission (sampling-admit.wgsl); this kernel adds
//                                                                   1 for the sampled token when F_COUNT is set
//   3 work       [numRows, vocabSize]             f32   read_write  scratch: logits after bias and penalties
//   4 token_ids  [numRows]                        u32   write       sampled token of each row (read back)
//   5 last_token [maxNumSeqs]                     u32   write       sampled token by SLOT (next step's input, GPU-side)
//   6 lp_values  [numRows, 21]                    f32   write       [chosen logprob, top-1..top-n logprobs]
//   7 lp_ids     [numRows, 21]                    u32   write       [chosen rank, top-1..top-n ids]   (F_LOGPROBS rows)
//   8 params     uniform Params { numRows, vocabSize, biasOffset }
// Row words: 0 slot, 1 flags, 2 seed_lo, 3 seed_hi, 4 step (tokens generated so far), 5 top_k (0 off),
//   6 top_p f32 (>= 1 off), 7 ln_min_p f32, 8 inv_temp f32, 9 rep f32, 10 inv_rep f32, 11 presence f32,
//   12 frequency f32, 13 bias_start, 14 bias_count, 15 num_top (top logprobs, <= 20)
// Prelude: act_t, Params, Lane + wg_sum (reduce library, plain or subgroup), sampling-math.wgsl,
//   sampling-select.wgsl (reductions and `search`, which call back this file's `elem`).
// Grid: one workgroup per row (linear id = wid.x + wid.y * nwg.x). Tunables: WG (power of two, 64..1024;
//   ~36 bytes of workgroup memory per invocation, so <= 256 under WebGPU's default 16 KiB).
// Precision: everything in f32. Order (vLLM V1): bias -> penalties -> [greedy argmax] -> * inv_temp ->
//   min-p -> top-k -> top-p -> Gumbel-max with a counter-based RNG (xxhash of seed, step, token), so a
//   row's result depends on nothing but its own logits, parameters and penalty bins.
//
// Selection without sorting the vocabulary: top-k / top-p / top-n thresholds are found by `search`,
// a multi-pivot bisection over order-preserving u32 keys of the values. Each pass counts (and, for
// top-p, sums the softmax mass of) the elements at or above NP pivots with deterministic tree
// reductions, and narrows the bracket that holds the threshold; once the bracket holds <= CAP
// elements they are gathered, sorted (bitonic, in workgroup memory) and scanned for the exact key.
// Ties at a threshold are all kept (top-k, top-p); top-n logprobs break ties by lowest id.

override WG: u32 = 256;
const MAX_TOP: u32 = 20u;
const LP_STRIDE: u32 = 21u;
const ROW_WORDS: u32 = 16u;
const NEG: f32 = -3.0e38;
const F_GREEDY: u32 = 1u;
const F_PENALTY: u32 = 2u;
const F_COUNT: u32 = 4u;
const F_LOGPROBS: u32 = 8u;
const M_TOPK: u32 = 0u; // count of tempered values >= key, among min-p survivors
const M_TOPP: u32 = 1u; // softmax mass of tempered values >= key, among min-p and top-k survivors
const M_TOPN: u32 = 2u; // count of raw values >= key
const M_TIE: u32 = 3u;  // count among raw values equal to g_tie, keyed by ~id (lowest ids first)

@group(0) @binding(0) var<storage, read> logits: array<act_t>;
@group(0) @binding(1) var<storage, read> row_meta: array<u32>;
@group(0) @binding(2) var<storage, read_write> counts: array<u32>;
@group(0) @binding(3) var<storage, read_write> work: array<f32>;
@group(0) @binding(4) var<storage, read_write> token_ids: array<u32>;
@group(0) @binding(5) var<storage, read_write> last_token: array<u32>;
@group(0) @binding(6) var<storage, read_write> lp_values: array<f32>;
@group(0) @binding(7) var<storage, read_write> lp_ids: array<u32>;
@group(0) @binding(8) var<uniform> params: Params;

struct Row {
  slot: u32, flags: u32, seed_lo: u32, seed_hi: u32, step: u32, top_k: u32,
  top_p: f32, ln_min_p: f32, inv_temp: f32, rep: f32, inv_rep: f32, presence: f32, frequency: f32,
  bias_start: u32, bias_count: u32, num_top: u32,
}

fn load_row(r: u32) -> Row {
  let b = r * ROW_WORDS;
  return Row(row_meta[b], row_meta[b + 1u], row_meta[b + 2u], row_meta[b + 3u], row_meta[b + 4u], row_meta[b + 5u],
    bitcast<f32>(row_meta[b + 6u]), bitcast<f32>(row_meta[b + 7u]), bitcast<f32>(row_meta[b + 8u]), bitcast<f32>(row_meta[b + 9u]),
    bitcast<f32>(row_meta[b + 10u]), bitcast<f32>(row_meta[b + 11u]), bitcast<f32>(row_meta[b + 12u]),
    row_meta[b + 13u], row_meta[b + 14u], row_meta[b + 15u]);
}

// Per-row state read by elem(); set identically by every invocation.
var<private> g_lbase: u32;
var<private> g_wbase: u32;
var<private> g_vocab: u32;
var<private> g_vmax: f32;
var<private> g_inv_temp: f32;
var<private> g_ln_min_p: f32;
var<private> g_tk: u32;
var<private> g_tie: u32;

fn raw_at(i: u32) -> f32 {
  return max(f32(logits[g_lbase + i]), NEG);
}

// vLLM: repetition scales seen tokens (prompt or output), then frequency * count, presence * (count > 0).
fn penalize(x: f32, c: u32, row: Row) -> f32 {
  if (c == 0u) {
    return x;
  }
  let n = c & 0x7fffffffu;
  var y = x * select(row.rep, row.inv_rep, x > 0.0);
  y = y - row.frequency * f32(n);
  return y - row.presence * select(0.0, 1.0, n > 0u);
}

fn elem(mode: u32, i: u32) -> Elem {
  if (mode >= M_TOPN) {
    let k = fkey(raw_at(i));
    if (mode == M_TOPN) {
      return Elem(k, 1.0, true);
    }
    return Elem(NONE - i, 1.0, k == g_tie);
  }
  let v = work[g_wbase + i] * g_inv_temp;
  let d = v - g_vmax;
  let k = fkey(v);
  if (mode == M_TOPP) {
    return Elem(k, exp(d), d >= g_ln_min_p && k >= g_tk);
  }
  return Elem(k, 1.0, d >= g_ln_min_p);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, lane: Lane) {
  let r = wid.x + wid.y * nwg.x;
  if (r >= params.numRows) {
    return; // uniform per workgroup: barriers below stay uniform
  }
  let row = load_row(r);
  let V = params.vocabSize;
  let li = lane.index;
  g_lbase = r * V;
  g_wbase = r * V;
  g_vocab = V;
  let cbase = row.slot * V;
  let pen = (row.flags & F_PENALTY) != 0u;
  let want_lp = (row.flags & F_LOGPROBS) != 0u;

  // Pass 1: raw log-sum-exp (online), processed logits into `work` (bias comes after), their argmax.
  var rm = NEG;
  var rs = 0.0;
  var pm = NEG;
  var pi = NONE;
  for (var i = li; i < V; i += WG) {
    let x = raw_at(i);
    if (want_lp) {
      if (x > rm) {
        rs = rs * exp(rm - x) + 1.0;
        rm = x;
      } else {
        rs += exp(x - rm);
      }
    }
    var y = x;
    if (pen) {
      y = penalize(x, counts[cbase + i], row);
    }
    work[g_wbase + i] = y;
    if (y > pm || pi == NONE) {
      pm = y;
      pi = i;
    }
  }
  if (row.bias_count > 0u) {
    // Bias is added to the raw logit before the penalties: redo the few biased tokens, then the argmax.
    storageBarrier();
    for (var j = li; j < row.bias_count; j += WG) {
      let e = params.biasOffset + 2u * (row.bias_start + j);
      let t = row_meta[e];
      if (t < V) {
        var y = raw_at(t) + bitcast<f32>(row_meta[e + 1u]);
        if (pen) {
          y = penalize(y, counts[cbase + t], row);
        }
        work[g_wbase + t] = y;
      }
    }
    storageBarrier();
    pm = NEG;
    pi = NONE;
    for (var i = li; i < V; i += WG) {
      let y = work[g_wbase + i];
      if (y > pm || pi == NONE) {
        pm = y;
        pi = i;
      }
    }
  }
  let best = argmax_wg(li, pm, pi);
  var tok = best.y;
  let random = (row.flags & F_GREEDY) == 0u;
  g_inv_temp = row.inv_temp;
  g_vmax = bitcast<f32>(best.x) * row.inv_temp;
  g_ln_min_p = row.ln_min_p;
  g_tk = 0u;

  // Stages 0-1: top-k and top-p thresholds, then the draw; stages 2-3: top-n logprobs and their
  // ties. One call site of `search` for all four: every inlined copy costs compile time.
  var thr = 0u;
  var tn = NONE;
  var tie_thr = 0u;
  var tie_goal = 0.0;
  var lse = 0.0;
  for (var st = 0u; st < 4u; st++) {
    if (st == 2u) {
      if (random) {
        // Gumbel-max: argmax of v - ln(E) over the kept set is a draw from softmax(kept v).
        var br = NEG;
        var bi = NONE;
        for (var i = li; i < V; i += WG) {
          let v = work[g_wbase + i] * g_inv_temp;
          if (v - g_vmax >= g_ln_min_p && fkey(v) >= thr) {
            let rr = v - ln_exponential(row.seed_lo, row.seed_hi, row.step, i);
            if (rr > br || bi == NONE) {
              br = rr;
              bi = i;
            }
          }
        }
        tok = argmax_wg(li, br, bi).y;
      }
      if (!want_lp) {
        break;
      }
      let ls = lse_wg(li, rm, rs);
      lse = ls.x + ln_acc(ls.y);
      g_vmax = ls.x; // top-n searches the raw logits
    }
    var on = false;
    var goal = 0.0;
    var frac = 0.0;
    switch st {
      case 0u: {
        on = random && row.top_k > 0u;
        goal = f32(row.top_k);
      }
      case 1u: {
        on = random && row.top_p < 1.0;
        frac = row.top_p;
      }
      case 2u: {
        on = row.num_top > 0u;
        goal = f32(row.num_top);
      }
      default: {
        on = tie_goal > 0.0;
        goal = tie_goal;
      }
    }
    if (on) {
      let f = search(st, goal, frac, li); // stage number == search mode
      switch st {
        case 0u: {
          thr = f.key;
          g_tk = thr;
        }
        case 1u: {
          thr = max(thr, f.key);
        }
        case 2u: {
          tn = f.key;
          if (f.w_ge > goal) {
            // More tokens tie at the n-th value than fit: take the lowest ids among them.
            g_tie = f.key;
            tie_goal = goal - f.w_gt;
          }
        }
        default: {
          tie_thr = f.key;
        }
      }
    }
  }

  if (want_lp) {
    let xt = raw_at(tok);
    if (li == 0u) {
      atomicStore(&n_cand, 0u);
    }
    workgroupBarrier();
    var ge = 0.0;
    for (var i = li; i < V; i += WG) {
      let x = raw_at(i);
      if (x >= xt) {
        ge += 1.0;
      }
      let k = fkey(x);
      if (row.num_top > 0u && (k > tn || (k == tn && NONE - i >= tie_thr))) {
        let s = atomicAdd(&n_cand, 1u);
        if (s < MAX_TOP) {
          sh[2u * s] = i;
          sh[2u * s + 1u] = bitcast<u32>(x);
        }
      }
    }
    let rank = wg_sum(ge, lane); // its barriers also publish the gathered top-n
    if (li == 0u) {
      let o = r * LP_STRIDE;
      lp_values[o] = xt - lse;
      lp_ids[o] = u32(rank);
      let n = min(atomicLoad(&n_cand), MAX_TOP);
      for (var a = 1u; a < n; a++) { // insertion sort: value desc, id asc
        let id = sh[2u * a];
        let xv = sh[2u * a + 1u];
        var b = a;
        loop {
          if (b == 0u) {
            break;
          }
          let pv = bitcast<f32>(sh[2u * (b - 1u) + 1u]);
          if (pv > bitcast<f32>(xv) || (pv == bitcast<f32>(xv) && sh[2u * (b - 1u)] < id)) {
            break;
          }
          sh[2u * b] = sh[2u * (b - 1u)];
          sh[2u * b + 1u] = sh[2u * (b - 1u) + 1u];
          b--;
        }
        sh[2u * b] = id;
        sh[2u * b + 1u] = xv;
      }
      for (var j = 0u; j < n; j++) {
        lp_ids[o + 1u + j] = sh[2u * j];
        lp_values[o + 1u + j] = bitcast<f32>(sh[2u * j + 1u]) - lse;
      }
    }
  }

  if (li == 0u) {
    token_ids[r] = tok;
    last_token[row.slot] = tok;
    if ((row.flags & F_COUNT) != 0u) {
      counts[cbase + tok] = counts[cbase + tok] + 1u;
    }
  }
}
