// Feeds sampled tokens to the next step on the GPU, so the CPU never waits for a readback before
// it can submit the next step: ids[dst] = last_token[slot] for each (dst, slot) entry. The engine
// writes the step's input ids as usual (any placeholder where a decode token goes), then this
// dispatch patches in the tokens the previous step sampled, before the embedding reads them.
//
// Bindings (group 0):
//   0 feed       [2*numFeeds]  u32 read        (dst index into ids, slot) pairs
//   1 last_token [maxNumSeqs]  u32 read        sampled token by slot (written by shaders/sampling.wgsl)
//   2 ids        [numTokens]   u32 read_write  the next step's input token ids
//   3 params     uniform Params { numFeeds }
// Grid: one invocation per entry (linear id = (wid.x + wid.y * nwg.x) * WG + lid). Tunables: WG.

override WG: u32 = 64;

@group(0) @binding(0) var<storage, read> feed: array<u32>;
@group(0) @binding(1) var<storage, read> last_token: array<u32>;
@group(0) @binding(2) var<storage, read_write> ids: array<u32>;
@group(0) @binding(3) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let j = (wid.x + wid.y * nwg.x) * WG + lid;
  if (j >= params.numFeeds) { return; }
  ids[feed[2u * j]] = last_token[feed[2u * j + 1u]];
}
