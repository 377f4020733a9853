// Workgroup reductions with subgroups: reduce within each subgroup in registers, then combine
// one partial per subgroup through shared memory.
// Contract: as reduce-plain.wgsl (kernel declares `override WG: u32`, takes `lane: Lane`).
// Assumes subgroups are formed from consecutive local_invocation_index values (true on the
// GPUs we know of, not promised by the spec); a device where it fails gives wrong results,
// which the tuner's validation rejects, so this variant is never used there.

struct Lane {
  @builtin(local_invocation_index) index: u32,
  @builtin(subgroup_size) sg_size: u32,
  @builtin(subgroup_invocation_id) sg_id: u32,
}

var<workgroup> red_scratch: array<f32, WG>;

// Every invocation reads the n subgroup partials a subgroup's width at a time and combines them
// across its subgroup: n / sg_size shared-memory reads each instead of n (n = 32 at WG = 1024
// on NVIDIA, where the serial loop cost as much as the loads it reduced).
fn wg_combine_sum(s: f32, lane: Lane) -> f32 {
  if (lane.sg_id == 0u) {
    red_scratch[lane.index / lane.sg_size] = s;
  }
  workgroupBarrier();
  let n = (WG + lane.sg_size - 1u) / lane.sg_size;
  var t = 0.0;
  for (var i = 0u; i < n; i += lane.sg_size) {
    let j = i + lane.sg_id;
    t += select(0.0, red_scratch[min(j, n - 1u)], j < n);
  }
  workgroupBarrier();
  return subgroupAdd(t);
}

fn wg_sum(v: f32, lane: Lane) -> f32 {
  return wg_combine_sum(subgroupAdd(v), lane);
}

fn wg_max(v: f32, lane: Lane) -> f32 {
  let s = subgroupMax(v);
  if (lane.sg_id == 0u) {
    red_scratch[lane.index / lane.sg_size] = s;
  }
  workgroupBarrier();
  let n = (WG + lane.sg_size - 1u) / lane.sg_size;
  var t = red_scratch[0];
  for (var i = 0u; i < n; i += lane.sg_size) {
    t = max(t, red_scratch[min(i + lane.sg_id, n - 1u)]);
  }
  workgroupBarrier();
  return subgroupMax(t);
}
