/**
 * Reading a tensor's bytes, and its values as f32 (dequantized on the CPU). The GPU upload path
 * reads raw bytes and dequantizes in kernels; the f32 path is for tests, references and small
 * tensors (norms, rope_freqs).
 */
import { dequantize } from '../../core/reference/dequant.js';
import { readExact } from './byte-reader.js';
import type { TensorInfo } from './types.js';

export function numElements(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** The tensor's stored bytes: [byteLength] u8 in its own dtype's layout. */
export function readTensorBytes(t: TensorInfo): Promise<Uint8Array> {
  return readExact(t.source, t.byteOffset, t.byteLength, `tensor '${t.name}'`);
}

/** The tensor's values, dequantized: [numElements(shape)] f32, row-major. */
export async function readTensorF32(t: TensorInfo): Promise<Float32Array> {
  return dequantize(t.dtype, await readTensorBytes(t), numElements(t.shape));
}
