// Int8 quantization of activations per 32-block, as the int8-dot GEMV consumes them (the way
// llama.cpp quantizes activations for its quantized matmuls): d = max|x| / 127,
// q = round(x * (127 / max|x|)) to nearest even, in [-127, 127]; x stands for d * q.
// Used by shaders/lib/gemv-int8-x-quant.wgsl (inside the GEMV), shaders/matmul-quantize-x.wgsl
// (once per step, for several rows of x) and the kernels that produce x and quantize it in the
// same pass (rmsnorm-quant-x.wgsl, swiglu-quant-x.wgsl). Contract: quant_pair needs
// x_vec4(m, k) -> vec4f, x[m, k..k+3] (matmul-x-vec4.wgsl, or the producing kernel's reader of
// what it stored) and the format's pair_cols and xa_groups (lib/int8-groups-<format>.wgsl).

const QMAGIC: f32 = 12582912.0; // 1.5 * 2^23: t + QMAGIC rounds t to an integer in its low bits

struct QBlock {
  w: array<u32, 8>, // 4 int8 per word, in the order of the 8 quads given
  d: f32,           // the step (0 for a block that must contribute nothing)
  sum: i32,         // sum of the 32 q
}

// round(v * inv) as 4 int8 in one word.
fn quant4(v: vec4f, inv: f32) -> u32 {
  return pack4xI8(bitcast<vec4i>(bitcast<vec4u>(v * inv + QMAGIC) - vec4u(0x4b400000u)));
}

// The block whose 32 values are the quads g[0..7] (in the order the words are wanted); live ==
// false: a block past the end of K or M, quantized as zeros with d = 0.
fn quant_block(g: array<vec4f, 8>, live: bool) -> QBlock {
  var amax = 0.0;
  for (var j = 0u; j < 8u; j++) {
    let b = abs(g[j]);
    amax = max(amax, max(max(b.x, b.y), max(b.z, b.w)));
  }
  let inv = select(0.0, 127.0 / amax, amax > 0.0 && live);
  var qb: QBlock;
  qb.d = select(0.0, amax / 127.0, live);
  qb.sum = 0i;
  for (var j = 0u; j < 8u; j++) {
    qb.w[j] = quant4(g[j], inv);
    qb.sum += dot4I8Packed(qb.w[j], 0x01010101u);
  }
  return qb;
}

struct QPair {
  a: QBlock, // block A of the pair (pair_cols(p).x ..), in the format's grouping
  b: QBlock, // block B (pair_cols(p).y ..), in column order
}

// Pair p of row m of x quantized as the int8-dot GEMV reads pair p of a row of W.
fn quant_pair(m: u32, p: u32, live: bool) -> QPair {
  let k = pair_cols(p);
  var a: array<vec4f, 8>;
  var b: array<vec4f, 8>;
  for (var t = 0u; t < 8u; t++) {
    a[t] = x_vec4(m, k.x + t * 4u);
    b[t] = x_vec4(m, k.y + t * 4u);
  }
  return QPair(quant_block(xa_groups(a), live), quant_block(b, live));
}
