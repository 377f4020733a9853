// Penalty-state admission for GPU sampling (shaders/sampling.wgsl reads the bins this writes).
// A request that uses penalties gets its slot's bins reset and filled from its prompt (and from the
// output it already has, after a preemption), once, when the engine admits it: the per-step cost is
// then nothing proportional to the vocabulary or the prompt.
//
// Bindings (group 0):
//   0 admit  [numClear + 2*numEntries] u32        read        slots to reset, then (slot, token | OUTPUT_FLAG)
//                                                             entries from params.numClear
//   1 counts [maxNumSeqs, vocabSize]   atomic<u32> read_write bins: bit 31 = in the prompt, bits 0..30 = output count
//   2 params uniform Params { numClear, numEntries, vocabSize }
// Entry points (both in one pass, `clear` first: WebGPU orders dispatches of a pass):
//   clear: grid (ceil(vocabSize / WG), numClear); invocation (x, slot k) zeroes counts[admit[k], x]
//   fill:  grid over entries (linear id = wid.x + wid.y * nwg.x) * WG + lid; atomics, so any number
//          of repeats of a token in a prompt land correctly
// Prelude: Params. Tunables: WG.

override WG: u32 = 256;
const PROMPT_BIT: u32 = 0x80000000u;
const OUTPUT_FLAG: u32 = 0x80000000u;

@group(0) @binding(0) var<storage, read> admit: array<u32>;
@group(0) @binding(1) var<storage, read_write> counts: array<atomic<u32>>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn clear(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = wid.x * WG + lid;
  if (wid.y >= params.numClear || i >= params.vocabSize) { return; }
  atomicStore(&counts[admit[wid.y] * params.vocabSize + i], 0u);
}

@compute @workgroup_size(WG)
fn fill(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let j = (wid.x + wid.y * nwg.x) * WG + lid;
  if (j >= params.numEntries) { return; }
  let e = params.numClear + 2u * j;
  let slot = admit[e];
  let t = admit[e + 1u] & ~OUTPUT_FLAG;
  if (t >= params.vocabSize) { return; }
  let at = slot * params.vocabSize + t;
  if ((admit[e + 1u] & OUTPUT_FLAG) != 0u) {
    atomicAdd(&counts[at], 1u);
  } else {
    atomicOr(&counts[at], PROMPT_BIT);
  }
}
