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
// Grid: one invocation per (token t, pair p): it loads the gate/up values of the pair's 64
// columns (pair_cols(p)), computes and stores the 64 outputs, then quantizes them as stored (read
// back by the same invocation); i = t * intermediateSize/64 + p, linear over workgroups spread
// over x,y.
// Tunables: WG (invocations per workgroup). Precision: swiglu.wgsl's; the quantization in f32 as
// lib/int8-quant.wgsl.

const XQ_BINDING = 4u;
const XS_BINDING = 5u;

// quant_pair's reader: out as stored (rounded to act_t).
fn x_vec4(t: u32, i: u32) -> vec4f {
  let o = t * params.intermediateSize + i;
  return vec4f(f32(out[o]), f32(out[o + 1u]), f32(out[o + 2u]), f32(out[o + 3u]));
}

// gate / up [t, c..c+3]
fn gate4(t: u32, c: u32) -> vec4f {
  let o = params.gateOffset + t * params.rowStride + c;
  return vec4f(f32(gate[o]), f32(gate[o + 1u]), f32(gate[o + 2u]), f32(gate[o + 3u]));
}

fn up4(t: u32, c: u32) -> vec4f {
  let o = params.upOffset + t * params.rowStride + c;
  return vec4f(f32(up[o]), f32(up[o + 1u]), f32(up[o + 2u]), f32(up[o + 3u]));
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
  // Every load first, so that they are in flight together (not one quad's per store).
  var g: array<vec4f, 16>;
  var u: array<vec4f, 16>;
  for (var q = 0u; q < 16u; q++) {
    let c = select(k.y + 4u * (q - 8u), k.x + 4u * q, q < 8u);
    g[q] = gate4(t, c);
    u[q] = up4(t, c);
  }
  for (var q = 0u; q < 16u; q++) {
    let o = t * params.intermediateSize + select(k.y + 4u * (q - 8u), k.x + 4u * q, q < 8u);
    for (var j = 0u; j < 4u; j++) { out[o + j] = swiglu_of(g[q][j], u[q][j]); }
  }
  // read back by the invocation that stored them: no barrier
  store_pair(idx, quant_pair(t, p, true));
}
