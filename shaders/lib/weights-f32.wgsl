// Weight access for f32 tables. Contract: the kernel defines `const WEIGHTS_BINDING`.
@group(0) @binding(WEIGHTS_BINDING) var<storage, read> weights: array<f32>;

fn weight_at(i: u32) -> f32 {
  return weights[i];
}
