// Embedding gather: out[t, :] = table[ids[t], :], converted to act_t.
//
// Bindings (group 0):
//   0 ids     [numTokens]             u32   read
//   1 weights [vocabSize, hiddenSize] (storage format of the table; read through `weight_at`)
//   2 out     [numTokens, hiddenSize] act_t write
//   3 params  Params { numTokens, hiddenSize, vocabSize }
// Prelude: act_t, Params, and a weight library (shaders/lib/weights-<format>.wgsl) that declares
// binding WEIGHTS_BINDING and `fn weight_at(i: u32) -> f32` (element i of the row-major table).
// Grid: one invocation per output element; workgroups spread over x,y. Tunables: WG.
// Ids >= vocabSize produce a zero row, so a bad id can never read outside the table.

override WG: u32 = 256;
const WEIGHTS_BINDING = 1u;

@group(0) @binding(0) var<storage, read> ids: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<act_t>;
@group(0) @binding(3) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let idx = (wid.x + wid.y * nwg.x) * WG + lid;
  if (idx >= params.numTokens * params.hiddenSize) { return; }
  let t = idx / params.hiddenSize;
  let i = idx % params.hiddenSize;
  let id = ids[t];
  var v = 0.0;
  if (id < params.vocabSize) {
    v = weight_at(id * params.hiddenSize + i);
  }
  out[idx] = act_t(v);
}
