// Staging units of W for the tensor-core kernel, for formats whose reader decodes one quad at a
// time (after tensor-w-f16/-q8_0/-any.wgsl): a unit is one quad, w_unit(row, u) = w_half4(row, u).
// Interface of the W staging unit (this file, or a format's own, as tensor-w-q4_0.wgsl):
//   const W_UNIT_QUADS       quads a unit holds (the kernel stages BK/4 / W_UNIT_QUADS units per row and step)
//   w_unit_quad(u, e) -> u32 the quad (of the row, counted from the first unit of a K step's
//                            window when u is too) that element e of unit u holds; units of a
//                            K step cover its BK columns exactly once
//   w_unit(row, u) -> array<vec4<f16>, W_UNIT_QUADS>  the unit's quads, each equal bit for bit
//                            to vec4<f16>(w_quad(row, w_unit_quad(u, e)))
const W_UNIT_QUADS: u32 = 1u;

fn w_unit_quad(u: u32, e: u32) -> u32 {
  return u;
}

fn w_unit(row: u32, u: u32) -> array<vec4<f16>, W_UNIT_QUADS> {
  return array<vec4<f16>, W_UNIT_QUADS>(w_half4(row, u));
}
