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
// Contract: intermediateSize % 64 == 0 (Q6_K: % 256); WG a multiple of 16.
// Grid: 16 invocations per (token t, pair p), WG / 16 pairs per workgroup; pair i = t *
// intermediateSize/64 + p, linear over workgroups spread over x,y. Invocation q of a pair computes
// and stores the 4 outputs of quad q of the pair's 64 columns (quads 0-7: pair_cols(p).x.., 8-15:
// pair_cols(p).y..) and stages them (as act_t) in workgroup memory; after a barrier the
// pair's first invocation quantizes the 64 staged values. Why: one invocation per pair that also
// computed all 64 outputs left a decode row (224 pairs at 14336) to 224 long serial chains and
// ran slower than swiglu plus the separate quantizer; here the loads and the activations are
// spread as in swiglu.wgsl, and only the short quantization from workgroup memory is per pair.
// Tunables: WG. Precision: swiglu.wgsl's; the quantization in f32 as lib/int8-quant.wgsl.

const XQ_BINDING = 4u;
const XS_BINDING = 5u;

// quad q of the workgroup's pair j at j * 16 + q, in act_t: staged as stored in out. (Staged as
// f32 from f32(r), the H200's compiler kept r unrounded on the f16 path: the steps d differed
// from the separate quantizer's, which reads out back.)
var<workgroup> staged: array<vec4<act_t>, WG>;

// The pair the first invocation quantizes: its columns and where its quads are staged.
var<private> q_cols: vec2u;
var<private> q_base: u32;

// quant_pair's reader: the pair's outputs as staged (rounded to act_t, as stored in out).
fn x_vec4(t: u32, c: u32) -> vec4f {
  let inA = c - q_cols.x < 32u;
  return vec4f(staged[q_base + select(8u + (c - q_cols.y) / 4u, (c - q_cols.x) / 4u, inA)]);
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
  let pairs = params.intermediateSize / 64u;
  let total = params.numTokens * pairs;
  let i = (wid.x + wid.y * nwg.x) * (WG / 16u) + lid / 16u;
  let live = i < total;
  let ic = min(i, total - 1u); // past the end: recompute the last pair, store nothing
  let t = ic / pairs;
  let p = ic % pairs;
  let k = pair_cols(p);
  let q = lid % 16u;
  let c = select(k.y + 4u * (q - 8u), k.x + 4u * q, q < 8u);
  let g = gate4(t, c);
  let u = up4(t, c);
  var v: vec4<act_t>;
  let o = t * params.intermediateSize + c;
  for (var j = 0u; j < 4u; j++) {
    let r = swiglu_of(g[j], u[j]);
    if (live) { out[o + j] = r; }
    v[j] = r;
  }
  staged[lid] = v;
  workgroupBarrier(); // every invocation reaches it: no return above
  if (live && q == 0u) {
    q_cols = k;
    q_base = lid;
    store_pair(i, quant_pair(t, p, true));
  }
}
