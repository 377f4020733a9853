// GEMV reduction with subgroups: each sum reduced in registers within a subgroup, then one partial
// per subgroup combined through shared memory (one barrier for all RM sums).
// Contract: as matmul-reduce-plain.wgsl. Assumes subgroups are consecutive local_invocation_index
// values (true on the GPUs we know of; where not, validation rejects this variant).

struct MmLane {
  @builtin(local_invocation_index) index: u32,
  @builtin(subgroup_size) sg_size: u32,
  @builtin(subgroup_invocation_id) sg_id: u32,
}

// one partial per subgroup and sum; subgroups have at least 4 invocations
var<workgroup> mm_scratch: array<f32, RM * ((WG + 3u) / 4u)>; // [RM, numSubgroups] f32

fn mm_reduce(acc: array<f32, RM>, lane: MmLane) -> f32 {
  let nsg = (WG + lane.sg_size - 1u) / lane.sg_size;
  let sg = lane.index / lane.sg_size;
  for (var j = 0u; j < RM; j++) {
    let s = subgroupAdd(acc[j]);
    if (lane.sg_id == 0u) {
      mm_scratch[j * nsg + sg] = s;
    }
  }
  workgroupBarrier();
  var r = 0.0;
  if (lane.index < RM) {
    for (var i = 0u; i < nsg; i++) {
      r += mm_scratch[lane.index * nsg + i];
    }
  }
  workgroupBarrier();
  return r;
}
