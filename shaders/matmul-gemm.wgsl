// Matmul, prefill path (tiled GEMM): y[m, n] = sum_k x[m, k] * W[n, k] (+ bias[n]).
//
// Bindings (group 0):
//   0 x      [M, K] act_t                read, through x_vec4 (shaders/matmul-x-*.wgsl)
//   1 w      [N, K] in its stored format read, through w_quad (shaders/lib/dequant-<format>.wgsl)
//   2 bias   [N]    f32                  read (main_bias only)
//   3 y      [M, N] act_t                write
//   4 params Params { M, N, K }
// Prelude: act_t; Params; consts TM and TN (generated: they size register arrays); an x reader;
// a weight reader (+ dequant-bytes for block formats).
// Grid: (ceil(N / BN), ceil(M / BM)); one workgroup computes a BM x BN tile of y. Per step of BK
// columns it stages x[BM, BK] and W[BN, BK] in workgroup memory as f32 (W dequantized while it
// is loaded, so each weight is decoded once per workgroup, never expanded in GPU memory), then
// each invocation accumulates a TM x TN sub-tile: rows ty + i*(BM/TM), columns tx + j*(BN/TN)
// (strided, so that neighbouring invocations read neighbouring workgroup-memory words).
// Tunables: BM, BN, BK (overrides; BK a multiple of 4), TM, TN; WG = (BM/TM) * (BN/TN).
// Precision: f32 tiles, f32 products and sums; only x and y storage is act_t.

override BM: u32 = 64;
override BN: u32 = 64;
override BK: u32 = 16;
override WG: u32 = (BM / TM) * (BN / TN);
const X_BINDING = 0u;
const W_BINDING = 1u;

@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<act_t>;
@group(0) @binding(4) var<uniform> params: Params;

var<workgroup> xs: array<f32, BK * BM>; // [BK, BM] f32: x tile, transposed
var<workgroup> ws: array<f32, BK * BN>; // [BK, BN] f32: W tile, transposed, dequantized

fn gemm_tile(wid: vec3u, lid: u32) -> array<f32, TM * TN> {
  let n0 = wid.x * BN;
  let m0 = wid.y * BM;
  let tx = lid % (BN / TN);
  let ty = lid / (BN / TN);
  let kq = BK / 4u; // quads per tile row
  var acc: array<f32, TM * TN>;
  for (var k0 = 0u; k0 < params.K; k0 += BK) {
    // Adjacent invocations take adjacent quads of one row: the global loads coalesce.
    for (var i = lid; i < BM * kq; i += WG) {
      let r = i / kq;
      let c = (i % kq) * 4u;
      var v = vec4f(0.0);
      if (m0 + r < params.M && k0 + c < params.K) { v = x_vec4(m0 + r, k0 + c); }
      xs[c * BM + r] = v.x;
      xs[(c + 1u) * BM + r] = v.y;
      xs[(c + 2u) * BM + r] = v.z;
      xs[(c + 3u) * BM + r] = v.w;
    }
    for (var i = lid; i < BN * kq; i += WG) {
      let r = i / kq;
      let c = (i % kq) * 4u;
      var v = vec4f(0.0);
      if (n0 + r < params.N && k0 + c < params.K) { v = w_quad(n0 + r, (k0 + c) >> 2u); }
      ws[c * BN + r] = v.x;
      ws[(c + 1u) * BN + r] = v.y;
      ws[(c + 2u) * BN + r] = v.z;
      ws[(c + 3u) * BN + r] = v.w;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < BK; kk++) {
      var a: array<f32, TM>;
      var b: array<f32, TN>;
      for (var i = 0u; i < TM; i++) { a[i] = xs[kk * BM + ty + i * (BM / TM)]; }
      for (var j = 0u; j < TN; j++) { b[j] = ws[kk * BN + tx + j * (BN / TN)]; }
      for (var i = 0u; i < TM; i++) {
        for (var j = 0u; j < TN; j++) {
          acc[i * TN + j] = fma(a[i], b[j], acc[i * TN + j]);
        }
      }
    }
    workgroupBarrier();
  }
  return acc;
}

// y index of sub-tile element (i, j) of invocation lid, or 0xffffffff when outside [M, N].
fn gemm_out(wid: vec3u, lid: u32, i: u32, j: u32) -> vec2u {
  let m = wid.y * BM + lid / (BN / TN) + i * (BM / TM);
  let n = wid.x * BN + lid % (BN / TN) + j * (BN / TN);
  return select(vec2u(0xffffffffu), vec2u(m * params.N + n, n), m < params.M && n < params.N);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let acc = gemm_tile(wid, lid);
  for (var i = 0u; i < TM; i++) {
    for (var j = 0u; j < TN; j++) {
      let o = gemm_out(wid, lid, i, j);
      if (o.x != 0xffffffffu) { y[o.x] = act_t(acc[i * TN + j]); }
    }
  }
}

@compute @workgroup_size(WG)
fn main_bias(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let acc = gemm_tile(wid, lid);
  for (var i = 0u; i < TM; i++) {
    for (var j = 0u; j < TN; j++) {
      let o = gemm_out(wid, lid, i, j);
      if (o.x != 0xffffffffu) { y[o.x] = act_t(acc[i * TN + j] + bias[o.y]); }
    }
  }
}
