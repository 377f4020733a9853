// KV write: stores this step's keys (after RoPE) and values into the paged cache.
//
//   for each token t, kv head h, with slot = slotMapping[t] (slot = block * BLOCK_SIZE + row):
//     slot < 0: nothing (padding token)
//     kCache[block, h, row, :] = k[t, h, :];  vCache[block, h, row, :] = v[t, h, :]
//
// Bindings (group 0), all indices in 4-element vectors (headDim is a multiple of 4):
//   0 k           act_t rows read through a view: element (t, h, :) at kOffset + t * kStride + h * D/4
//                 (k and v may be views into one fused qkv buffer [numTokens, (numHeads + 2*numKvHeads) * D])
//   1 v           act_t, same with vOffset / vStride
//   2 slotMapping [numTokens] i32   read
//   3 kCache      [numBlocks, numKvHeads, BLOCK_SIZE, D] kv dtype   read_write
//   4 vCache      [numBlocks, numKvHeads, BLOCK_SIZE, D] kv dtype   read_write
//   5 params      Params { numTokens, numKvHeads, kOffset, kStride, vOffset, vStride }
// Prelude: act_t, Params, kv_vec + kv_pack (attention-kv-f32.wgsl or attention-kv-f16.wgsl:
//   the cache dtype is chosen there; an f16 cache is stored as packed u32 pairs).
// Grid: one invocation per (token, kv head, 4 dims); workgroups spread over x,y.
// Tunables: WG. Constants: D (headDim), BLOCK_SIZE (static per model).
// Precision: values are converted once, act_t -> f32 -> cache dtype.

override WG: u32 = 64;
override D: u32 = 128;
override BLOCK_SIZE: u32 = 16;
override DV: u32 = D / 4u;

@group(0) @binding(0) var<storage, read> k: array<vec4<act_t>>;
@group(0) @binding(1) var<storage, read> v: array<vec4<act_t>>;
@group(0) @binding(2) var<storage, read> slotMapping: array<i32>;
@group(0) @binding(3) var<storage, read_write> kCache: array<kv_vec>;
@group(0) @binding(4) var<storage, read_write> vCache: array<kv_vec>;
@group(0) @binding(5) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let idx = (wid.x + wid.y * nwg.x) * WG + lid;
  let perToken = params.numKvHeads * DV;
  if (idx >= params.numTokens * perToken) { return; }
  let t = idx / perToken;
  let rem = idx % perToken; // = h * DV + dv
  let slot = slotMapping[t];
  if (slot < 0) { return; }
  let block = u32(slot) / BLOCK_SIZE;
  let row = u32(slot) % BLOCK_SIZE;
  let h = rem / DV;
  let dst = ((block * params.numKvHeads + h) * BLOCK_SIZE + row) * DV + rem % DV;
  kCache[dst] = kv_pack(vec4<f32>(k[params.kOffset + t * params.kStride + rem]));
  vCache[dst] = kv_pack(vec4<f32>(v[params.vOffset + t * params.vStride + rem]));
}
