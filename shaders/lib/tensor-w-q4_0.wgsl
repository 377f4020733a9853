// Tensor-core staging reader of Q4_0 W (after dequant-bytes.wgsl, dequant-q4_0.wgsl and
// tensor-q4_0-halves.wgsl, whose q4_0_halves decodes the nibbles in packed f16).
// Staging units (interface: see tensor-w-units.wgsl): a unit is one block, its 8 quads in column
// order (quads 0..3: low nibbles of bytes 4e.., quads 4..7: high nibbles of bytes 4(e-4)..). A
// block (18 bytes) starts on an even byte: at a word boundary (even blocks: scale in the low half
// of its first word, nibbles from byte 2) or two bytes past one (odd blocks: scale in the high
// half, nibbles word-aligned), so five aligned word loads hold it either way. Five loads per 32
// weights where units of 16 weights took four per 16 (on the H200 the staging's loads, not the
// tensor cores, bound the kernel; H200, Llama-3.1-8B Q4_0, TFLOP/s at M = 512 +1-7%, at M = 4096
// +7%; tensor-w-q4_0-runs.wgsl serves fewer rows of x). A K step is a whole number of blocks (BK % 32 == 0). The fifth
// word of the tensor's last block lies in the buffer: GGUF tensors are padded to 4 bytes.
// Needs `enable f16`.
const W_UNIT_QUADS: u32 = 8u;

fn w_unit_quad(u: u32, e: u32) -> u32 {
  return u * 8u + e;
}

fn w_unit(row: u32, u: u32) -> array<vec4<f16>, W_UNIT_QUADS> {
  let o = q4_0_block(row, u);
  let i = o >> 2u;
  let odd = (o & 2u) != 0u;
  let w0 = w_data[i];
  let w1 = w_data[i + 1u];
  let w2 = w_data[i + 2u];
  let w3 = w_data[i + 3u];
  let w4 = w_data[i + 4u];
  // the 16 nibble bytes: words 1..4 (odd blocks), or shifted by two bytes from words 0..4 (even;
  // select, not if: neighbouring lanes read blocks of both parities)
  let t0 = select((w0 >> 16u) | (w1 << 16u), w1, odd);
  let t1 = select((w1 >> 16u) | (w2 << 16u), w2, odd);
  let t2 = select((w2 >> 16u) | (w3 << 16u), w3, odd);
  let t3 = select((w3 >> 16u) | (w4 << 16u), w4, odd);
  let d = bitcast<vec2<f16>>(w0)[select(0u, 1u, odd)];
  let m = 0x0f0f0f0fu;
  return array<vec4<f16>, W_UNIT_QUADS>(
    q4_0_halves(t0 & m, d), q4_0_halves(t1 & m, d), q4_0_halves(t2 & m, d), q4_0_halves(t3 & m, d),
    q4_0_halves((t0 >> 4u) & m, d), q4_0_halves((t1 >> 4u) & m, d), q4_0_halves((t2 >> 4u) & m, d), q4_0_halves((t3 >> 4u) & m, d),
  );
}
