// SwiGLU, four outputs per invocation: swiglu.wgsl's contract (bindings, uniforms, math) through
// vec4 views, for intermediateSize % 4 == 0 (then every row offset is a multiple of 4 too).
// Why: 8-byte loads and stores in place of 2-byte ones (f16) and one index division per four
// outputs; a prompt chunk's swiglu is a pure memory pass (512 x 14336 outputs: 44 MB per layer).
//
//   out[t, i] = silu(gate[gateOffset + t * rowStride + i]) * up[upOffset + t * rowStride + i]
//
// Bindings (group 0): swiglu.wgsl's, as vec4<act_t> arrays.
// Prelude: act_t, Params. Grid: one invocation per 4 outputs; workgroups spread over x,y.
// Tunables: WG. Precision: f32 math, as swiglu.wgsl.

override WG: u32 = 256;

@group(0) @binding(0) var<storage, read> gate: array<vec4<act_t>>;
@group(0) @binding(1) var<storage, read> up: array<vec4<act_t>>;
@group(0) @binding(2) var<storage, read_write> out: array<vec4<act_t>>;
@group(0) @binding(3) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let idx = (wid.x + wid.y * nwg.x) * WG + lid; // output quad
  let quads = params.intermediateSize / 4u;
  if (idx >= params.numTokens * quads) { return; }
  let row = (idx / quads) * params.rowStride / 4u;
  let i = idx % quads;
  let g = vec4<f32>(gate[params.gateOffset / 4u + row + i]);
  let u = vec4<f32>(up[params.upOffset / 4u + row + i]);
  out[idx] = vec4<act_t>(g / (vec4<f32>(1.0) + exp(-g)) * u);
}
