// RMSNorm (shaders/rmsnorm.wgsl's main / main_residual) that also quantizes its output row for the
// int8-dot GEMV that reads it next, so that the GEMV's own quantizer pass
// (shaders/matmul-quantize-x.wgsl) does not run: the words are those that pass would write from
// `out` (the act_t values the GEMV would have read), block by block.
//
//   main_quant_x:          out = rmsnorm(x) * weight;                     xq, xs = quantize(out)
//   main_residual_quant_x: residual += x; out = rmsnorm(residual) * weight; xq, xs = quantize(out)
//
// Bindings (group 0): rmsnorm.wgsl's 0 x, 1 weight, 2 out, 3 residual (main_residual_quant_x),
// 4 params, and (lib/int8-store.wgsl):
//   5 xq [numRows, rowLen/64, 4] vec4<u32>  write: per pair of blocks (pair_cols) 16 words of 4 int8
//   6 xs [numRows, rowLen/64] vec4<u32>     write: per pair (dA, dB, oA, oB)
// Prelude: rmsnorm.wgsl's; lib/int8-quant.wgsl; lib/int8-groups-<format>.wgsl (the GEMV's weight
// format: the grouping of xq); lib/int8-store.wgsl. Contract: rowLen % 64 == 0 (Q6_K: % 256).
// Grid: rmsnorm.wgsl's (one workgroup per row). After the row is stored, invocation i quantizes
// pairs i, i + WG, ... of it, reading `out` back (storage barrier between).
// Tunables: rmsnorm.wgsl's (WG, reduce flavour). Precision: the norm as rmsnorm.wgsl; the
// quantization in f32 as lib/int8-quant.wgsl.

const XQ_BINDING = 5u;
const XS_BINDING = 6u;

// quant_pair's reader: the row as stored (rounded to act_t).
fn x_vec4(m: u32, k: u32) -> vec4f {
  let i = m * params.rowLen + k;
  return vec4f(f32(out[i]), f32(out[i + 1u]), f32(out[i + 2u]), f32(out[i + 3u]));
}

fn quantize_row(row: u32, lane: Lane) {
  storageBarrier(); // the row's out, stored by every invocation, is read back by others
  let pairs = params.rowLen / 64u;
  for (var p = lane.index; p < pairs; p += WG) {
    store_pair(row * pairs + p, quant_pair(row, p, true));
  }
}

@compute @workgroup_size(WG)
fn main_quant_x(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, lane: Lane) {
  let row = row_index(wid, nwg);
  if (row >= params.numRows) { return; } // uniform per workgroup: the barriers stay uniform
  norm_row(row, lane);
  quantize_row(row, lane);
}

@compute @workgroup_size(WG)
fn main_residual_quant_x(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, lane: Lane) {
  let row = row_index(wid, nwg);
  if (row >= params.numRows) { return; }
  add_norm_row(row, lane);
  quantize_row(row, lane);
}
