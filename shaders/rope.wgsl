// Rotary position embedding, in place, over the heads of a [numTokens, tokenStride] buffer.
// Heads start at element 0 of each token row (bind a buffer offset to skip columns), so one
// dispatch rotates q and k together when they are adjacent in a fused qkv buffer.
//
//   for each token t, head h < numHeads, pair i < rotaryDim/2, at p = positions[t]:
//     (a, b) = NEOX ? (i, i + rotaryDim/2) : (2i, 2i + 1)        (within the head)
//     x[a], x[b] = x[a]*cos - x[b]*sin, x[a]*sin + x[b]*cos     (cos, sin = cosSin[p, i])
//   dims from rotaryDim to headDim are left as they are (partial rotary).
//
// Bindings (group 0):
//   0 x         [numTokens, tokenStride] act_t   read_write
//   1 positions [numTokens]              u32     read
//   2 cosSin    [numPositions, rotaryDim/2, 2] f32 read  (built on the CPU: core/reference/rope.ts)
//   3 params    Params { numTokens, numHeads, headDim, rotaryDim, tokenStride, numPositions }
// Prelude: act_t, Params.
// Grid: one invocation per (token, head, pair); workgroups spread over x,y.
// Tunables: WG. Constant: NEOX (rotation style, a model property).
// Precision: rotation in f32; positions past the table are clamped to its last row (the engine
// rejects such requests before they get here; the clamp only keeps reads in bounds).

override WG: u32 = 64;
override NEOX: bool = false;

@group(0) @binding(0) var<storage, read_write> x: array<act_t>;
@group(0) @binding(1) var<storage, read> positions: array<u32>;
@group(0) @binding(2) var<storage, read> cosSin: array<vec2<f32>>;
@group(0) @binding(3) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let idx = (wid.x + wid.y * nwg.x) * WG + lid;
  let half = params.rotaryDim / 2u;
  let perToken = params.numHeads * half;
  if (idx >= params.numTokens * perToken) { return; }
  let t = idx / perToken;
  let rem = idx % perToken;
  let h = rem / half;
  let i = rem % half;
  let p = min(positions[t], params.numPositions - 1u);
  let cs = cosSin[p * half + i];
  let base = t * params.tokenStride + h * params.headDim;
  var a = base + 2u * i;
  var b = a + 1u;
  if (NEOX) {
    a = base + i;
    b = base + i + half;
  }
  let x0 = f32(x[a]);
  let x1 = f32(x[b]);
  x[a] = act_t(x0 * cs.x - x1 * cs.y);
  x[b] = act_t(x0 * cs.y + x1 * cs.x);
}
