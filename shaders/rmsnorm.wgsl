// RMSNorm over the last dimension, with an optional fused residual add.
//
//   main:          out[r, :] = x[r, :] / sqrt(mean(x[r, :]^2) + eps) * weight[:]
//   main_residual: residual[r, :] += x[r, :];  out[r, :] = rmsnorm(residual[r, :]) * weight[:]
//                  (the residual stream is updated in place: the next layer reads it)
//   main_heads:    in place on `residual`, rows are heads inside token rows (Qwen3's per-head q/k
//                  norm on a fused qkv buffer): row r = (t, h) with t = r / headsPerToken,
//                  h = r % headsPerToken, at element headOffset + t * tokenStride + h * rowLen.
//   main_quant_x, main_residual_quant_x: main / main_residual, then out's row quantized to int8
//                  for the int8-dot GEMV that reads it next (shaders/rmsnorm-quant-x.wgsl, added
//                  to the module only for that variant; its bindings 5 xq and 6 xs).
//
// Bindings (group 0):
//   0 x        [numRows, rowLen] act_t   read
//   1 weight   [rowLen]          f32     read
//   2 out      [numRows, rowLen] act_t   write (may not alias x)
//   3 residual [numRows, rowLen] act_t   read_write (main_residual; main_heads: the data, in place)
//   4 params   Params { numRows, rowLen, eps, headsPerToken, tokenStride, headOffset } (the last three: main_heads)
// Prelude: act_t, Params, Lane + wg_sum (reduce library).
// Grid: one workgroup per row; rows spread over x,y (linear id = wid.x + wid.y * nwg.x).
// Tunables: WG (invocations per row, power of two); reduce flavour (plain or subgroup).
// Precision: sums of squares and the scale in f32; only loads/stores use act_t.

override WG: u32 = 128;

@group(0) @binding(0) var<storage, read> x: array<act_t>;
@group(0) @binding(1) var<storage, read> weight: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<act_t>;
@group(0) @binding(3) var<storage, read_write> residual: array<act_t>;
@group(0) @binding(4) var<uniform> params: Params;

fn row_index(wid: vec3u, nwg: vec3u) -> u32 {
  return wid.x + wid.y * nwg.x;
}

// Elements per invocation per round of a row loop, all loaded before any is used: a round waits
// on one memory trip, not PER_ROUND. A single row (decode at batch 1) is one workgroup, so its time is
// the latency of its loop rounds: 4 rounds of one load each at WG 1024 and 4096 columns cost
// more than the whole row's bytes.
const PER_ROUND = 4u;

// A row of at most PER_ROUND * WG columns (a decode row at the default WG) in one round: its
// values and weights are loaded together and stay in registers through the sum, so the row
// costs one memory trip where the round loops below take three (load, reload for the scaling,
// weights). The same formula as the loops; where they read the residual sum back rounded to
// act_t, a compiler may square the sum unrounded here (out stays within the reference's
// tolerance, and the next layer reads the stored, rounded residual either way). (Two functions:
// `main` binds no residual, so its path may not name it.)
fn norm_row_once(row: u32, lane: Lane) {
  let base = row * params.rowLen;
  var v: array<f32, PER_ROUND>;
  var w: array<f32, PER_ROUND>;
  for (var e = 0u; e < PER_ROUND; e++) {
    let i = min(lane.index + e * WG, params.rowLen - 1u);
    v[e] = f32(x[base + i]);
    w[e] = weight[i];
  }
  scale_store_once(base, lane, v, w);
}

fn add_norm_row_once(row: u32, lane: Lane) {
  let base = row * params.rowLen;
  var v: array<f32, PER_ROUND>;
  var w: array<f32, PER_ROUND>;
  for (var e = 0u; e < PER_ROUND; e++) {
    let i = min(lane.index + e * WG, params.rowLen - 1u);
    v[e] = f32(act_t(f32(x[base + i]) + f32(residual[base + i]))); // the next layer reads it rounded
    w[e] = weight[i];
  }
  for (var e = 0u; e < PER_ROUND; e++) {
    let i = lane.index + e * WG;
    if (i < params.rowLen) { residual[base + i] = act_t(v[e]); }
  }
  scale_store_once(base, lane, v, w);
}

// out = v * rmsnorm scale * w over the round's columns (v and w as the *_once loaders read them).
fn scale_store_once(base: u32, lane: Lane, v: array<f32, PER_ROUND>, w: array<f32, PER_ROUND>) {
  var ss = 0.0;
  for (var e = 0u; e < PER_ROUND; e++) {
    if (lane.index + e * WG < params.rowLen) { ss += v[e] * v[e]; }
  }
  let scale = inverseSqrt(wg_sum(ss, lane) / f32(params.rowLen) + params.eps);
  for (var e = 0u; e < PER_ROUND; e++) {
    let i = lane.index + e * WG;
    if (i < params.rowLen) { out[base + i] = act_t(v[e] * scale * w[e]); }
  }
}

// out[row, :] = rmsnorm(x[row, :]) * weight[:]
fn norm_row(row: u32, lane: Lane) {
  if (params.rowLen <= PER_ROUND * WG) { // uniform: the barriers inside stay uniform
    norm_row_once(row, lane);
  } else {
    norm_row_rounds(row, lane);
  }
}

// residual[row, :] += x[row, :];  out[row, :] = rmsnorm(residual[row, :]) * weight[:]
fn add_norm_row(row: u32, lane: Lane) {
  if (params.rowLen <= PER_ROUND * WG) {
    add_norm_row_once(row, lane);
  } else {
    add_norm_row_rounds(row, lane);
  }
}

// norm_row over rows of any length, PER_ROUND * WG columns a round.
fn norm_row_rounds(row: u32, lane: Lane) {
  let base = row * params.rowLen;
  let last = params.rowLen - 1u;
  var ss = 0.0;
  for (var i0 = lane.index; i0 < params.rowLen; i0 += PER_ROUND * WG) {
    var v: array<f32, PER_ROUND>;
    for (var e = 0u; e < PER_ROUND; e++) {
      let i = i0 + e * WG;
      v[e] = select(0.0, f32(x[base + min(i, last)]), i < params.rowLen);
    }
    for (var e = 0u; e < PER_ROUND; e++) { ss += v[e] * v[e]; }
  }
  let scale = inverseSqrt(wg_sum(ss, lane) / f32(params.rowLen) + params.eps);
  for (var i0 = lane.index; i0 < params.rowLen; i0 += PER_ROUND * WG) {
    var v: array<f32, PER_ROUND>;
    var w: array<f32, PER_ROUND>;
    for (var e = 0u; e < PER_ROUND; e++) {
      let i = min(i0 + e * WG, last);
      v[e] = f32(x[base + i]);
      w[e] = weight[i];
    }
    for (var e = 0u; e < PER_ROUND; e++) {
      let i = i0 + e * WG;
      if (i < params.rowLen) { out[base + i] = act_t(v[e] * scale * w[e]); }
    }
  }
}

// add_norm_row over rows of any length.
fn add_norm_row_rounds(row: u32, lane: Lane) {
  let base = row * params.rowLen;
  let last = params.rowLen - 1u;
  var ss = 0.0;
  for (var i0 = lane.index; i0 < params.rowLen; i0 += PER_ROUND * WG) {
    var v: array<f32, PER_ROUND>;
    for (var e = 0u; e < PER_ROUND; e++) {
      let i = min(i0 + e * WG, last);
      v[e] = f32(x[base + i]) + f32(residual[base + i]);
    }
    for (var e = 0u; e < PER_ROUND; e++) {
      let i = i0 + e * WG;
      if (i < params.rowLen) {
        // The sum is rounded to act_t before it is squared: the next layer reads the rounded value.
        let r = act_t(v[e]);
        residual[base + i] = r;
        ss += f32(r) * f32(r);
      }
    }
  }
  let scale = inverseSqrt(wg_sum(ss, lane) / f32(params.rowLen) + params.eps);
  for (var i0 = lane.index; i0 < params.rowLen; i0 += PER_ROUND * WG) {
    var v: array<f32, PER_ROUND>;
    var w: array<f32, PER_ROUND>;
    for (var e = 0u; e < PER_ROUND; e++) {
      let i = min(i0 + e * WG, last);
      v[e] = f32(residual[base + i]); // this invocation's own stores of the loop above
      w[e] = weight[i];
    }
    for (var e = 0u; e < PER_ROUND; e++) {
      let i = i0 + e * WG;
      if (i < params.rowLen) { out[base + i] = act_t(v[e] * scale * w[e]); }
    }
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, lane: Lane) {
  let row = row_index(wid, nwg);
  if (row >= params.numRows) { return; } // uniform per workgroup: barriers below stay uniform
  norm_row(row, lane);
}

@compute @workgroup_size(WG)
fn main_residual(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, lane: Lane) {
  let row = row_index(wid, nwg);
  if (row >= params.numRows) { return; }
  add_norm_row(row, lane);
}

@compute @workgroup_size(WG)
fn main_heads(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, lane: Lane) {
  let row = row_index(wid, nwg);
  if (row >= params.numRows) { return; }
  let base = params.headOffset + (row / params.headsPerToken) * params.tokenStride + (row % params.headsPerToken) * params.rowLen;
  var ss = 0.0;
  for (var i = lane.index; i < params.rowLen; i += WG) {
    let v = f32(residual[base + i]);
    ss += v * v;
  }
  let scale = inverseSqrt(wg_sum(ss, lane) / f32(params.rowLen) + params.eps);
  for (var i = lane.index; i < params.rowLen; i += WG) {
    residual[base + i] = act_t(f32(residual[base + i]) * scale * weight[i]);
  }
}
