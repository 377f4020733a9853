import { packRowsQ8, type Int8Format } from '../core/reference/matmul.js';
import { createBuffer } from '../gpu/buffers.js';
import type { GpuContext } from '../gpu/context.js';
import type { DeviceInfo } from '../gpu/device-info.js';
import int8Quant from '../../shaders/lib/int8-quant.wgsl?raw';
import int8Store from '../../shaders/lib/int8-store.wgsl?raw';
import groupsQ4_0 from '../../shaders/lib/int8-groups-q4_0.wgsl?raw';
import groupsQ8_0 from '../../shaders/lib/int8-groups-q8_0.wgsl?raw';
import groupsQ6K from '../../shaders/lib/int8-groups-q6_k.wgsl?raw';
import type { HostTensor } from './spec.js';

/**
 * x quantized to int8 per 32-block for the int8-dot GEMV over pre-quantized x
 * (matmul.gemv-int8-pre): the WGSL that quantizes and stores it, the scratch it lives in, and its
 * host-side form. The quantized words depend on the GEMV's weight format (the grouping of block
 * A's columns, which columns a pair holds, the offset terms), so whoever writes them (the
 * matmul.quantize-x pass, or the kernel that produces x: rmsnorm.quant-x, swiglu.quant-x) is
 * built for one format.
 */
export type { Int8Format };

/** The grouping library per weight format (shaders/lib/int8-groups-<format>.wgsl). */
export const INT8_GROUPS: Record<Int8Format, string> = { q4_0: groupsQ4_0, q8_0: groupsQ8_0, q6_k: groupsQ6K };

/** Every WGSL library a quantizing kernel may include (hashed into tune keys). */
export const QUANT_X_LIB_SOURCES: readonly string[] = [int8Quant, int8Store, groupsQ4_0, groupsQ8_0, groupsQ6K];

/**
 * The libraries that quantize x and store it for `format`, after the kernel's own x reader
 * (x_vec4, for quant_pair) where it has one: lib/int8-quant.wgsl, the format's grouping and
 * lib/int8-store.wgsl (the kernel defines XQ_BINDING and XS_BINDING).
 */
export function quantXLibs(format: Int8Format): string[] {
  return [int8Quant, INT8_GROUPS[format], int8Store];
}

/** Columns a row of quantized x must be a multiple of: whole pairs of blocks (Q6_K: whole 256-blocks, 4 pairs). */
export function quantXMultiple(format: Int8Format): number {
  return format === 'q6_k' ? 256 : 64;
}

/** Reasons x of rows K wide cannot be quantized for `format` here; [] = it can. */
export function quantXSupport(format: Int8Format, K: number, dev: DeviceInfo): string[] {
  const r: string[] = [];
  if (!dev.features.packedDot) r.push("needs the WGSL language feature 'packed_4x8_integer_dot_product'");
  const mult = quantXMultiple(format);
  if (K < 1 || K % mult !== 0) r.push(`x quantized for ${format} needs rows a multiple of ${mult} wide (got ${K})`);
  return r;
}

/**
 * Buffers for x quantized for the int8 GEMV over pre-quantized x, up to shape.M rows: xq 16 u32
 * per pair of blocks (64 columns), xs (dA, dB, oA, oB) per pair.
 */
export function createQuantizedX(ctx: GpuContext, shape: { M: number; K: number }, label: string): { xq: GPUBuffer; xs: GPUBuffer } {
  const pairs = (shape.M * shape.K) / 64;
  return { xq: createBuffer(ctx, pairs * 64, `${label}:xq`), xs: createBuffer(ctx, pairs * 16, `${label}:xs`) };
}

/** x [M, K] quantized and packed as the GPU writes it (packRowsQ8), or zeros of that size. */
export function packedX(M: number, K: number, format: Int8Format, x?: Float32Array): { xq: HostTensor; xs: HostTensor } {
  const pairs = (M * K) / 64;
  const p = x ? packRowsQ8(x, M, K, format) : { xq: new Uint32Array(pairs * 16), xs: new Uint32Array(pairs * 4) };
  return { xq: { dtype: 'u32', shape: [pairs * 16], data: p.xq }, xs: { dtype: 'u32', shape: [pairs * 4], data: p.xs } };
}

/**
 * What is wrong with xq / xs as a GPU wrote them for x [M, K] (the act_t values it quantized),
 * against the CPU's packing (packRowsQ8); undefined when nothing is. Exact but for rounding ties:
 * where x * 127 / max|x| lies within the GPU's division error of a tie, a byte may differ by one
 * (allowed in a few bytes), and the step d = max|x| / 127 by the division's error; a pair's
 * offset terms must be exact where its bytes are.
 */
export function packedXErrors(x: Float32Array, M: number, K: number, format: Int8Format, xq: Uint32Array, xs: Uint32Array): string | undefined {
  const want = packRowsQ8(x, M, K, format);
  if (xq.length !== want.xq.length || xs.length !== want.xs.length) return `xq/xs have ${xq.length}/${xs.length} words, want ${want.xq.length}/${want.xs.length}`;
  const got8 = new Int8Array(xq.buffer, xq.byteOffset, xq.byteLength);
  const want8 = new Int8Array(want.xq.buffer);
  let off = 0;
  for (let i = 0; i < want8.length; i++) {
    if (got8[i] === want8[i]) continue;
    if (Math.abs(got8[i]! - want8[i]!) !== 1) return `xq byte ${i} = ${got8[i]}, want ${want8[i]}`;
    off++;
  }
  if (off > Math.max(2, want8.length * 1e-3)) return `${off} of ${want8.length} xq bytes off by one (ties allow a few)`;
  const gotD = new Float32Array(xs.buffer, xs.byteOffset, xs.length);
  const wantD = new Float32Array(want.xs.buffer);
  for (let p = 0; p < xs.length / 4; p++) {
    for (const j of [4 * p, 4 * p + 1]) {
      if (!(Math.abs(gotD[j]! - wantD[j]!) <= 4e-7 * Math.abs(wantD[j]!))) return `xs[${j}] (a step d) = ${gotD[j]}, want ${wantD[j]}`;
    }
    const sameBytes = xq.subarray(16 * p, 16 * p + 16).every((w, t) => w === want.xq[16 * p + t]);
    if (sameBytes && (xs[4 * p + 2] !== want.xs[4 * p + 2] || xs[4 * p + 3] !== want.xs[4 * p + 3])) return `xs offsets of pair ${p} = ${xs[4 * p + 2]}, ${xs[4 * p + 3]}, want ${want.xs[4 * p + 2]}, ${want.xs[4 * p + 3]}`;
  }
  return undefined;
}
