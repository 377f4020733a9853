/**
 * Buffers for the matmul benchmark: weights of a real model's shape with random values (only
 * shapes and formats matter for speed), written in chunks of a repeated random pattern so that a
 * 2 GB lm_head costs no more host time than its upload.
 */
import { blockFormat, f32ToF16Bits } from '../src/core/dtype.js';
import { Rng } from '../src/core/random.js';
import { createBuffer, writeBuffer } from '../src/gpu/buffers.js';
import type { GpuContext } from '../src/gpu/context.js';
import { weightByteSize, type MatmulWeightFormat } from '../src/kernels/matmul-formats.js';

/** Where each block keeps its f16 scales, and a value that keeps outputs finite. */
const SCALES: Partial<Record<MatmulWeightFormat, [number, number][]>> = {
  q8_0: [[0, 0.004]],
  q4_0: [[0, 0.02]],
  q5_0: [[0, 0.01]],
  q4_k: [
    [0, 0.002],
    [2, 0.001],
  ],
  q6_k: [[208, 0.0005]],
};

/** A random pattern of whole blocks, about 2 MiB, a multiple of 4 bytes. */
export function weightPattern(format: MatmulWeightFormat, seed: number): Uint8Array {
  const rng = new Rng(seed);
  if (format === 'f32') return new Uint8Array(rng.floats(1 << 19, -1, 1).buffer);
  if (format === 'f16') {
    const h = new Uint16Array(1 << 20); // [n] f16 bits
    for (let i = 0; i < h.length; i++) h[i] = f32ToF16Bits(rng.uniform(-1, 1));
    return new Uint8Array(h.buffer);
  }
  const { blockBytes } = blockFormat(format);
  const blocks = 8192; // a multiple of 4, so the pattern is whole words
  const bytes = new Uint8Array(blocks * blockBytes);
  for (let i = 0; i < bytes.length; i++) bytes[i] = rng.int(0, 255);
  const view = new DataView(bytes.buffer);
  for (let b = 0; b < blocks; b++) {
    for (const [offset, value] of SCALES[format] ?? []) view.setUint16(b * blockBytes + offset, f32ToF16Bits(value), true);
  }
  return bytes;
}

/**
 * One buffer holding `copies` copies of a [N, K] weight, each at a 256-byte aligned offset
 * (decode timings rotate over copies so that the weights come from DRAM, not from L2).
 * Returns the buffer and the stride between copies.
 */
export function uploadWeights(
  ctx: GpuContext,
  format: MatmulWeightFormat,
  N: number,
  K: number,
  copies: number,
): { buffer: GPUBuffer; stride: number; bytes: number } {
  const bytes = weightByteSize(format, N, K);
  const align = Math.max(256, ctx.info.limits.minStorageBufferOffsetAlignment);
  const stride = Math.ceil(bytes / align) * align;
  const buffer = createBuffer(ctx, stride * (copies - 1) + bytes, `bench:w:${format}:${N}x${K}`);
  const pattern = weightPattern(format, N * 31 + K);
  for (let c = 0; c < copies; c++) {
    for (let off = 0; off < bytes; off += pattern.byteLength) {
      writeBuffer(ctx, buffer, c * stride + off, pattern.subarray(0, Math.min(pattern.byteLength, bytes - off)));
    }
  }
  return { buffer, stride, bytes };
}

/** A [rows, cols] activation buffer (f32 or f16) with small random values. */
export function uploadActivations(ctx: GpuContext, act: 'f32' | 'f16', rows: number, cols: number, seed: number): GPUBuffer {
  const rng = new Rng(seed);
  const n = rows * cols;
  const chunk = Math.min(n, 1 << 20);
  const data =
    act === 'f32'
      ? new Uint8Array(rng.floats(chunk, -1, 1).buffer)
      : new Uint8Array(Uint16Array.from({ length: chunk }, () => f32ToF16Bits(rng.uniform(-1, 1))).buffer);
  const elem = act === 'f32' ? 4 : 2;
  const buffer = createBuffer(ctx, n * elem, `bench:x:${rows}x${cols}`);
  for (let off = 0; off < n * elem; off += data.byteLength) {
    writeBuffer(ctx, buffer, off, data.subarray(0, Math.min(data.byteLength, n * elem - off)));
  }
  return buffer;
}
