// Weight access for f16 tables, stored as pairs in u32 words so that adapters without
// `shader-f16` read them too (unpack2x16float is core WGSL).
// Contract: the kernel defines `const WEIGHTS_BINDING`.
@group(0) @binding(WEIGHTS_BINDING) var<storage, read> weights: array<u32>;

fn weight_at(i: u32) -> f32 {
  let pair = unpack2x16float(weights[i >> 1u]);
  return select(pair.x, pair.y, (i & 1u) == 1u);
}
