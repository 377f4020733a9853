// Matmul weights in a GGUF block format -> the same weights as f16 rows, for a prompt chunk's
// tensor-core GEMM: where x has hundreds of rows, the GEMM over f16 W runs faster than the one
// that decodes the blocks in its staging (the dequantization then costs each weight once per
// step, not once per tile of x rows), and the f16 copy is one layer's, reused by the next.
//
//   out[n, k] = W[n, k] rounded to f16, n < N, k < K
//
// Bindings (group 0):
//   0 w      [N, K] raw GGUF blocks   read through the format's dequant library (w_pack, w_pack_k)
//   1 out    [N, K] f16, as u32 pairs written (pack2x16float: no shader-f16 needed)
//   2 params Params { N, K }
// Prelude: Params; lib/dequant-bytes.wgsl and lib/dequant-<format>.wgsl.
// Contract: K a multiple of the format's block (32 or 256), so K % 8 == 0 and every pack of 8
// weights is whole.
// Grid: one invocation per pack (8 weights: two runs of 4 columns, the format's decoding unit),
// packs of a row consecutive, rows after one another; workgroups spread over x,y.
// Tunables: WG.
// Precision: each weight as the format defines it in f32, then rounded to f16 once.

const W_BINDING = 0u;
override WG: u32 = 256;

@group(0) @binding(1) var<storage, read_write> out: array<vec2<u32>>; // [N, K/4] quads of f16
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let packs = params.K / 8u;
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= params.N * packs) { return; }
  let row = i / packs;
  let p = i % packs;
  let w = w_pack(row, p);
  let k = w_pack_k(p);
  let base = row * (params.K / 4u);
  out[base + k.x / 4u] = vec2<u32>(pack2x16float(w[0].xy), pack2x16float(w[0].zw));
  out[base + k.y / 4u] = vec2<u32>(pack2x16float(w[1].xy), pack2x16float(w[1].zw));
}
