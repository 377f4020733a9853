import { f16ArrayToF32, f32ArrayToF16 } from '../core/dtype.js';
import type { HostTensor, Tolerance } from './spec.js';

/** The bytes a host tensor occupies on the GPU (f16 tensors are converted to f16 bits). */
export function hostTensorBytes(t: HostTensor): Uint8Array {
  const data = t.dtype === 'f16' ? f32ArrayToF16(t.data as Float32Array) : t.data;
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** Reads GPU bytes back into a host tensor of the same dtype and shape as `like`. */
export function hostTensorFromBytes(bytes: ArrayBuffer, like: HostTensor): HostTensor {
  const n = like.data.length;
  switch (like.dtype) {
    case 'f16':
      return { ...like, data: f16ArrayToF32(new Uint16Array(bytes, 0, n)) };
    case 'f32':
      return { ...like, data: new Float32Array(bytes, 0, n) };
    case 'u32':
      return { ...like, data: new Uint32Array(bytes, 0, n) };
    case 'i32':
      return { ...like, data: new Int32Array(bytes, 0, n) };
    case 'bytes':
      return { ...like, data: new Uint8Array(bytes, 0, n) };
  }
}

export function f32Tensor(shape: number[], data: Float32Array, dtype: 'f32' | 'f16' = 'f32'): HostTensor {
  return { dtype, shape, data };
}

export interface Comparison {
  ok: boolean;
  /** max |got - want| */
  maxAbsErr: number;
  /** max |got - want| / (atol + rtol*|want|): <= 1 passes */
  worstRatio: number;
  firstBad?: { index: number; got: number; want: number };
}

/** Element-wise |got - want| <= atol + rtol*|want|; NaN anywhere fails. */
export function compareTensors(got: ArrayLike<number>, want: ArrayLike<number>, tol: Tolerance): Comparison {
  let maxAbsErr = 0;
  let worstRatio = 0;
  let firstBad: Comparison['firstBad'];
  if (got.length !== want.length) {
    return { ok: false, maxAbsErr: Infinity, worstRatio: Infinity, firstBad: { index: -1, got: got.length, want: want.length } };
  }
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!;
    const w = want[i]!;
    const err = Math.abs(g - w);
    const ratio = err === 0 ? 0 : err / (tol.atol + tol.rtol * Math.abs(w));
    if (!(ratio <= 1) && !firstBad) firstBad = { index: i, got: g, want: w };
    if (err > maxAbsErr || Number.isNaN(err)) maxAbsErr = Number.isNaN(err) ? Infinity : err;
    if (ratio > worstRatio || Number.isNaN(ratio)) worstRatio = Number.isNaN(ratio) ? Infinity : ratio;
  }
  return { ok: firstBad === undefined, maxAbsErr, worstRatio, ...(firstBad ? { firstBad } : {}) };
}
