// GEMV reduction without subgroups: RM sums at once over the workgroup, in a shared-memory tree.
// Contract: the kernel declares `override WG` (a power of two) and `const RM`, and takes a
// `lane: MmLane` entry-point parameter. Call from uniform control flow (barriers).
// mm_reduce returns, to invocation j < RM, the workgroup sum of every invocation's acc[j].

struct MmLane {
  @builtin(local_invocation_index) index: u32,
}

var<workgroup> mm_scratch: array<f32, RM * WG>; // [RM, WG] f32

fn mm_reduce(acc: array<f32, RM>, lane: MmLane) -> f32 {
  for (var j = 0u; j < RM; j++) {
    mm_scratch[j * WG + lane.index] = acc[j];
  }
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (lane.index < s) {
      for (var j = 0u; j < RM; j++) {
        mm_scratch[j * WG + lane.index] += mm_scratch[j * WG + lane.index + s];
      }
    }
    workgroupBarrier();
  }
  var r = 0.0;
  if (lane.index < RM) {
    r = mm_scratch[lane.index * WG];
  }
  workgroupBarrier(); // scratch is free for the next call
  return r;
}
