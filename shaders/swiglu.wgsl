// SwiGLU activation of a fused gate|up projection.
//
//   out[t, i] = silu(gateUp[t, i]) * gateUp[t, intermediateSize + i],  silu(g) = g / (1 + exp(-g))
//
// Bindings (group 0):
//   0 gateUp [numTokens, 2 * intermediateSize] act_t  read  (gate in the first half of each row)
//   1 out    [numTokens, intermediateSize]     act_t  write
//   2 params Params { numTokens, intermediateSize }
// Prelude: act_t, Params.
// Grid: one invocation per output element; workgroups spread over x,y.
// Tunables: WG. Precision: f32 math.

override WG: u32 = 256;

@group(0) @binding(0) var<storage, read> gateUp: array<act_t>;
@group(0) @binding(1) var<storage, read_write> out: array<act_t>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let idx = (wid.x + wid.y * nwg.x) * WG + lid;
  let inter = params.intermediateSize;
  if (idx >= params.numTokens * inter) { return; }
  let t = idx / inter;
  let i = idx % inter;
  let g = f32(gateUp[t * 2u * inter + i]);
  let u = f32(gateUp[t * 2u * inter + inter + i]);
  out[idx] = act_t(g / (1.0 + exp(-g)) * u);
}
