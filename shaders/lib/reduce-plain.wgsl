// Workgroup reductions without subgroups: a shared-memory tree.
// Contract: the including kernel declares `override WG: u32` (a power of two) and takes a
// `lane: Lane` entry-point parameter. Call from uniform control flow (there are barriers).
// Result is returned to every invocation.

struct Lane {
  @builtin(local_invocation_index) index: u32,
}

var<workgroup> red_scratch: array<f32, WG>;

fn wg_sum(v: f32, lane: Lane) -> f32 {
  red_scratch[lane.index] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (lane.index < s) {
      red_scratch[lane.index] = red_scratch[lane.index] + red_scratch[lane.index + s];
    }
    workgroupBarrier();
  }
  let r = red_scratch[0];
  workgroupBarrier(); // scratch is free for the next call
  return r;
}

fn wg_max(v: f32, lane: Lane) -> f32 {
  red_scratch[lane.index] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (lane.index < s) {
      red_scratch[lane.index] = max(red_scratch[lane.index], red_scratch[lane.index + s]);
    }
    workgroupBarrier();
  }
  let r = red_scratch[0];
  workgroupBarrier();
  return r;
}
