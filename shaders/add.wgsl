// Elementwise add: out[i] = a[i] + b[i].
//
// Bindings (group 0):
//   0 a   [n] act_t read
//   1 b   [n] act_t read
//   2 out [n] act_t write (may alias neither input: WebGPU forbids binding one buffer twice as writable)
//   3 params Params { n }
// Prelude: act_t, Params.
// Grid: one invocation per element; workgroups spread over x,y. Tunables: WG. Precision: f32 add.

override WG: u32 = 256;

@group(0) @binding(0) var<storage, read> a: array<act_t>;
@group(0) @binding(1) var<storage, read> b: array<act_t>;
@group(0) @binding(2) var<storage, read_write> out: array<act_t>;
@group(0) @binding(3) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let idx = (wid.x + wid.y * nwg.x) * WG + lid;
  if (idx >= params.n) { return; }
  out[idx] = act_t(f32(a[idx]) + f32(b[idx]));
}
