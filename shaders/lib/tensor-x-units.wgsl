// Staging units of x for the tensor-core kernel from a quad reader (after tensor-x-vec4.wgsl or
// tensor-x-any.wgsl): one quad per unit. Interface: see tensor-x-oct.wgsl.
const X_UNIT_QUADS: u32 = 1u;

fn x_unit(m: u32, u: u32) -> array<vec4<f16>, X_UNIT_QUADS> {
  return array<vec4<f16>, X_UNIT_QUADS>(x_half4(m, 4u * u));
}
