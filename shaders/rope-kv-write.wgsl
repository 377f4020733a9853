// RoPE and KV write in one pass over a fused qkv buffer: rope.wgsl's rotation of q and k in
// place, then kv-write.wgsl's store of this step's (rotated) k and v into the paged cache. One
// dispatch where the two kernels took two, each a dependent step of a decode pass.
//
//   for each token t at p = positions[t], with slot = slotMapping[t]:
//     q heads h < numHeads, k heads h < numKvHeads: rotated in place as rope.wgsl does
//       ((a, b) = NEOX ? (i, i + rotaryDim/2) : (2i, 2i + 1), cos/sin = cosSin[p, i]; dims past
//       rotaryDim kept), each value rounded to act_t
//     slot >= 0: kCache[block, h, row, :] = k[t, h, :] (as rotated and rounded to act_t);
//                vCache[block, h, row, :] = v[t, h, :]   (block = slot / BLOCK_SIZE, row = slot % BLOCK_SIZE)
//   so that q, k and the caches hold exactly what rope then kv-write leave there.
//
// Bindings (group 0):
//   0 qkv         [numTokens, tokenStride] act_t as vec4   read_write: per token numHeads q heads,
//                 then numKvHeads k heads, then numKvHeads v heads, each D wide
//   1 positions   [numTokens] u32                          read
//   2 cosSin      [numPositions, rotaryDim/2] vec2<f32>    read (core/reference/rope.ts)
//   3 slotMapping [numTokens] i32                          read (-1: a padding token, not stored)
//   4 kCache      [numBlocks, numKvHeads, BLOCK_SIZE, D] kv dtype   read_write
//   5 vCache      [numBlocks, numKvHeads, BLOCK_SIZE, D] kv dtype   read_write
//   6 params      Params { numTokens, numHeads, numKvHeads, tokenStride (in vec4s), rotaryDim, numPositions }
// Prelude: act_t, Params, kv_vec + kv_pack (attention-kv-f32.wgsl or -f16.wgsl).
// Contract: D % 4 == 0; rotaryDim % 4 == 0 (NEOX: % 8, so that both halves are whole vec4s).
// Grid: one invocation per (token, head slot, vec4 of dims): head slots are the q, k, then v
// heads; workgroups spread over x,y. NEOX: the invocation of vec4 j < rotaryDim/8 rotates j and
// its partner j + rotaryDim/8 together; the partner's invocation does nothing.
// Tunables: WG. Constants: D, BLOCK_SIZE, NEOX (model properties).
// Precision: rotation in f32 as rope.wgsl; positions past the table clamp to its last row.

override WG: u32 = 64;
override D: u32 = 128;
override BLOCK_SIZE: u32 = 16;
override NEOX: bool = false;
override DV: u32 = D / 4u;

@group(0) @binding(0) var<storage, read_write> qkv: array<vec4<act_t>>;
@group(0) @binding(1) var<storage, read> positions: array<u32>;
@group(0) @binding(2) var<storage, read> cosSin: array<vec2<f32>>;
@group(0) @binding(3) var<storage, read> slotMapping: array<i32>;
@group(0) @binding(4) var<storage, read_write> kCache: array<kv_vec>;
@group(0) @binding(5) var<storage, read_write> vCache: array<kv_vec>;
@group(0) @binding(6) var<uniform> params: Params;

// (cos, sin) of rotation pair i at position row p
fn cos_sin(p: u32, i: u32) -> vec2<f32> {
  return cosSin[p * (params.rotaryDim / 2u) + i];
}

// The cache index of (slot, kv head h, vec4 j); slot >= 0 (slotMapping's, of a token not padding).
fn cache_index(slot: i32, h: u32, j: u32) -> u32 {
  let block = u32(slot) / BLOCK_SIZE;
  return ((block * params.numKvHeads + h) * BLOCK_SIZE + u32(slot) % BLOCK_SIZE) * DV + j;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let idx = (wid.x + wid.y * nwg.x) * WG + lid;
  let slots = params.numHeads + 2u * params.numKvHeads;
  if (idx >= params.numTokens * slots * DV) { return; }
  let t = idx / (slots * DV);
  let hs = (idx / DV) % slots;
  let j = idx % DV;
  let i = t * params.tokenStride + hs * DV + j;
  let kh = hs - params.numHeads; // k head (when numHeads <= hs < numHeads + numKvHeads)
  let slot = slotMapping[t]; // < 0: a padding token, nothing to the cache
  if (hs >= params.numHeads + params.numKvHeads) { // a v head: to the cache as it is
    if (slot >= 0) { vCache[cache_index(slot, kh - params.numKvHeads, j)] = kv_pack(vec4<f32>(qkv[i])); }
    return;
  }
  let isK = hs >= params.numHeads;
  let p = min(positions[t], params.numPositions - 1u);
  let half = params.rotaryDim / 2u;
  var a = vec4<f32>(qkv[i]);
  if (NEOX) {
    let jb = j + half / 4u; // the partner vec4: dims 4j + half ..
    if (4u * j >= half && 4u * j < params.rotaryDim) { return; } // rotated by the invocation of j - half/4
    if (4u * j < half) {
      let b = vec4<f32>(qkv[i + half / 4u]);
      let m = mat4x2<f32>(cos_sin(p, 4u * j), cos_sin(p, 4u * j + 1u), cos_sin(p, 4u * j + 2u), cos_sin(p, 4u * j + 3u));
      let c = vec4<f32>(m[0].x, m[1].x, m[2].x, m[3].x);
      let s = vec4<f32>(m[0].y, m[1].y, m[2].y, m[3].y);
      let rb = vec4<f32>(vec4<act_t>(a * s + b * c));
      qkv[i + half / 4u] = vec4<act_t>(rb);
      a = a * c - b * s;
      if (isK && slot >= 0) { kCache[cache_index(slot, kh, jb)] = kv_pack(rb); }
    }
  } else if (4u * j < params.rotaryDim) {
    let c0 = cos_sin(p, 2u * j); // pair (x, y)
    let c1 = cos_sin(p, 2u * j + 1u); // pair (z, w)
    a = vec4<f32>(a.x * c0.x - a.y * c0.y, a.x * c0.y + a.y * c0.x, a.z * c1.x - a.w * c1.y, a.z * c1.y + a.w * c1.x);
  }
  let ra = vec4<act_t>(a);
  qkv[i] = ra;
  if (isK && slot >= 0) { kCache[cache_index(slot, kh, j)] = kv_pack(vec4<f32>(ra)); }
}
