// SwiGLU activation: out = silu(gate) * up, with gate and up read through row views so that a
// fused gate|up projection (one buffer, both views into it) and separate projections share
// one kernel.
//
//   out[t, i] = silu(gate[gateOffset + t * rowStride + i]) * up[upOffset + t * rowStride + i]
//   silu(g) = g / (1 + exp(-g))
//
// Bindings (group 0):
//   0 gate   act_t  read   (fused: [numTokens, 2 * intermediateSize], gate in the first half)
//   1 up     act_t  read   (fused: the same buffer as gate, upOffset = intermediateSize)
//   2 out    [numTokens, intermediateSize] act_t write
//   3 params Params { numTokens, intermediateSize, gateOffset, upOffset, rowStride }
// Prelude: act_t, Params.
// Grid: one invocation per output element; workgroups spread over x,y.
// Where intermediateSize % 4 == 0 the spec builds shaders/swiglu-vec4.wgsl instead (this contract,
// four outputs per invocation).
// Variant: shaders/swiglu-quant-x.wgsl's main_quant_x (added to the module only for it) also
// quantizes out to int8 for the int8-dot GEMV that reads it next (bindings 4 xq and 5 xs).
// Tunables: WG. Precision: f32 math.

override WG: u32 = 256;

@group(0) @binding(0) var<storage, read> gate: array<act_t>;
@group(0) @binding(1) var<storage, read> up: array<act_t>;
@group(0) @binding(2) var<storage, read_write> out: array<act_t>;
@group(0) @binding(3) var<uniform> params: Params;

fn swiglu_of(g: f32, u: f32) -> act_t {
  return act_t(g / (1.0 + exp(-g)) * u);
}

// out[t, i] (not stored)
fn swiglu_at(t: u32, i: u32) -> act_t {
  return swiglu_of(f32(gate[params.gateOffset + t * params.rowStride + i]), f32(up[params.upOffset + t * params.rowStride + i]));
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let idx = (wid.x + wid.y * nwg.x) * WG + lid;
  let inter = params.intermediateSize;
  if (idx >= params.numTokens * inter) { return; }
  out[idx] = swiglu_at(idx / inter, idx % inter);
}
