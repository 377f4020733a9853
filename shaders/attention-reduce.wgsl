// Split-KV reduce: combines the partials of attention.wgsl's main_split into the output.
//
//   for each row (t, h) over numSplits splits with (m_s, l_s, o_s), m in log2 units:
//     M = max_s m_s;  w_s = 2^(m_s - M) (0 for an empty split, m_s = -3e38)
//     out[t, h, :] = sum_s w_s o_s / sum_s w_s l_s
//
// Bindings (group 0); vectors are 4 head dims:
//   0 partOut [numSplits, numTokens, numHeads, D] f32  read
//   1 partMl  [numSplits, numTokens, numHeads, 2] f32  read  (max, sum)
//   2 out     [numTokens, numHeads, D] act_t           write
//   3 params  Params { numRows (= numTokens * numHeads), numSplits }
// Prelude: act_t, Params.
// Grid: one invocation per (row, 4 dims); workgroups spread over x,y.
// Tunables: WG. Constant: D.
// Precision: f32.

override WG: u32 = 64;
override D: u32 = 128;
override DV: u32 = D / 4u;

const VALID_MIN: f32 = -1.0e38;

@group(0) @binding(0) var<storage, read> partOut: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> partMl: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<vec4<act_t>>;
@group(0) @binding(3) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let idx = (wid.x + wid.y * nwg.x) * WG + lid;
  if (idx >= params.numRows * DV) { return; }
  let row = idx / DV;
  let dv = idx % DV;
  var m = -3.0e38;
  for (var s = 0u; s < params.numSplits; s++) {
    m = max(m, partMl[2u * (s * params.numRows + row)]);
  }
  var l = 0.0;
  var o = vec4<f32>(0.0);
  for (var s = 0u; s < params.numSplits; s++) {
    let i = s * params.numRows + row;
    let ms = partMl[2u * i];
    if (ms > VALID_MIN) {
      let w = exp2(ms - m);
      l += w * partMl[2u * i + 1u];
      o += w * partOut[i * DV + dv];
    }
  }
  out[idx] = vec4<act_t>(select(vec4<f32>(0.0), o / l, l > 0.0));
}
