// SwiGLU (shaders/swiglu.wgsl) that also quantizes its output for the int8-dot GEMV that reads it
// next (down_proj), so that the GEMV's own quantizer pass (shaders/matmul-quantize-x.wgsl) does
// not run: the words are those that pass would write from `out` (the act_t values the GEMV would
// have read), block by block.
//
//   main_quant_x: out = silu(gate) * up (as swiglu.wgsl's main);  xq, xs = quantize(out)
//
// Bindings (group 0): swiglu.wgsl's 0 gate, 1 up, 2 out, 3 params, and (lib/int8-store.wgsl):
//   4 xq [numTokens, intermediateSize/64, 4] vec4<u32>  write: per pair of blocks (pair_cols) 16 words of 4 int8
//   5 xs [numTokens, intermediateSize/64] vec4<u32>     write: per pair (dA, dB, oA, oB)
// Prelude: swiglu.wgsl's; lib/int8-quant.wgsl; lib/int8-groups-<format>.wgsl (the GEMV's weight
// format: the grouping of xq and which columns a pair holds); lib/int8-store.wgsl.
// Contract: intermediateSize % 64 == 0 (Q6_K: % 256).
// Grid: one invocation per (token t, pair p): it computes and stores the pair's 64 outputs (the
// columns pair_cols(p) names), then quantizes them as stored; i = t * intermediateSize/64 + p,
// linear over workgroups spread over x,y.
// Tunables: WG (invocations per workgroup). Precision: swiglu.wgsl's; the quantization in f32 as
// lib/int8-quant.wgsl.

const XQ_BINDING = 4u;
const XS_BINDING = 5u;

// quant_pair's reader: out as stored (rounded to act_t).
fn x_vec4(t: u32, i: u32) -> vec4f {
  let o = t * params.intermediateSize + i;
  return vec4f(f32(out[o]), f32(out[o + 1u]), f32(out[o + 2u]), f32(out[o + 3u]));
}

@compute @workgroup_size(WG)
fn main_quant_x(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                @builtin(local_invocation_index) lid: u32) {
  let idx = (wid.x + wid.y * nwg.x) * WG + lid;
  let pairs = params.intermediateSize / 64u;
  if (idx >= params.numTokens * pairs) { return; }
  let t = idx / pairs;
  let p = idx % pairs;
  let k = pair_cols(p);
  for (var j = 0u; j < 32u; j++) {
    out[t * params.intermediateSize + k.x + j] = swiglu_at(t, k.x + j);
    out[t * params.intermediateSize + k.y + j] = swiglu_at(t, k.y + j);
  }
  // read back by the invocation that stored them: no barrier
  store_pair(idx, quant_pair(t, p, true));
}
