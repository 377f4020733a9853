// Int8-dot GEMV pair loader for formats whose pair of blocks is PW whole words used as loaded
// (Q4_0, Q8_0: each row starts 4-byte aligned since K % 64 == 0). Goes with the format's
// library (gemv-int8-q4_0.wgsl / -q8_0.wgsl), which defines PW and reads the words; Q6_K loads
// its own pair (its odd blocks are shifted into place). Interface: see gemv-int8-q4_0.wgsl.
@group(0) @binding(W_BINDING) var<storage, read> w_data: array<u32>;

alias WPair = array<u32, PW>;

fn pair_load(n: u32, p: u32) -> WPair {
  let o = (n * (params.K / 64u) + p) * PW;
  var w: WPair;
  for (var t = 0u; t < PW; t++) { w[t] = w_data[o + t]; }
  return w;
}
