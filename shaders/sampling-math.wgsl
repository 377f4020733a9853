// Sampling math library (included by shaders/sampling.wgsl through composeWgsl's `libs`).
// Mirrored bit-for-bit (hash, uniform) or to ~1e-7 (logs) by src/core/reference/sampling.ts.
//
//   fkey(x)              order-preserving f32 -> u32 (a > b  <=>  fkey(a) > fkey(b), for non-NaN)
//   xxh32x4(a, b, c, d)  xxHash32 of four little-endian u32 words, seed 0
//   ln_exponential(...)  ln(E), E = -ln(1 - U), U uniform from the hash of (seedLo, seedHi, step, token)
//
// WGSL's builtin log() is only accurate to 2^-21 absolute near 1, which would blur the small
// exponentials that decide the race; ln_acc/log1p_acc are accurate to a few ulps everywhere.

fn fkey(x: f32) -> u32 {
  let b = bitcast<u32>(x);
  return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
}

const XX_P1: u32 = 0x9e3779b1u;
const XX_P2: u32 = 0x85ebca77u;
const XX_P3: u32 = 0xc2b2ae3du;

fn xx_rotl(x: u32, r: u32) -> u32 {
  return (x << r) | (x >> (32u - r));
}

fn xx_round(acc: u32, input: u32) -> u32 {
  return xx_rotl(acc + input * XX_P2, 13u) * XX_P1;
}

fn xxh32x4(a: u32, b: u32, c: u32, d: u32) -> u32 {
  // seeds of the four lanes for seed 0: P1 + P2, P2, 0, -P1 (mod 2^32; const u32 math may not wrap)
  let v1 = xx_round(0x24234428u, a);
  let v2 = xx_round(XX_P2, b);
  let v3 = xx_round(0u, c);
  let v4 = xx_round(0x61c8864fu, d);
  var h = xx_rotl(v1, 1u) + xx_rotl(v2, 7u) + xx_rotl(v3, 12u) + xx_rotl(v4, 18u) + 16u;
  h = (h ^ (h >> 15u)) * XX_P2;
  h = (h ^ (h >> 13u)) * XX_P3;
  return h ^ (h >> 16u);
}

// Uniform in (0, 1): both products are exact, so the two rounded adds match the CPU bit for bit.
fn sampling_uniform(h: u32) -> f32 {
  let v = (f32(h >> 8u) * 5.9604644775390625e-8 + f32(h & 255u) * 2.3283064365386963e-10) + 1.1641532182693481e-10;
  return min(v, 0.99999994);
}

const LN2_HI: f32 = 0.693145751953125;
const LN2_LO: f32 = 1.428606765330187e-6;

// ln(x) for normal x > 0: x = m * 2^e with m in [sqrt(1/2), sqrt(2)), ln m = 2 atanh((m-1)/(m+1)).
fn ln_acc(x: f32) -> f32 {
  let fe = frexp(x);
  var m = fe.fract;
  var e = f32(fe.exp);
  if (m < 0.70710678) {
    m = m * 2.0;
    e = e - 1.0;
  }
  let s = (m - 1.0) / (m + 1.0);
  let s2 = s * s;
  let p = s2 * (0.33333333 + s2 * (0.2 + s2 * (0.14285715 + s2 * (0.11111111 + s2 * (0.09090909 + s2 * 0.07692308)))));
  return e * LN2_HI + (e * LN2_LO + (2.0 * s + 2.0 * s * p));
}

// log(1 + x) for x > -1 (Goldberg: u = 1 + x rounded, then ln(u) * x / (u - 1) fixes the rounding).
fn log1p_acc(x: f32) -> f32 {
  let u = 1.0 + x;
  if (u == 1.0) {
    return x;
  }
  return ln_acc(u) * (x / (u - 1.0));
}

fn ln_exponential(seed_lo: u32, seed_hi: u32, step: u32, token: u32) -> f32 {
  let u = sampling_uniform(xxh32x4(seed_lo, seed_hi, step, token));
  return ln_acc(-log1p_acc(-u));
}
