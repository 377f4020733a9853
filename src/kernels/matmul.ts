import type { DeviceInfo } from '../gpu/device-info.js';
import type { MatmulShape } from './matmul-common.js';
import { matmulGemmSpec, type MatmulGemmConfig } from './matmul-gemm.js';
import { matmulGemvSpec, type MatmulGemvConfig } from './matmul-gemv.js';
import { matmulGemvInt8PreSpec, matmulGemvInt8Spec } from './matmul-gemv-int8.js';
import { matmulTensorSpec, type MatmulTensorConfig } from './matmul-tensor.js';

/**
 * The matmul family y[M, N] = x[M, K] · W[N, K]^T (+ bias[N]) has three variants with the same
 * bindings and uniforms, so a model builds the ones it needs for a weight once at load and picks
 * one per step by M (numTokens) with `chooseMatmul`:
 *   gemv   decode: bandwidth-bound, workgroups over rows of W, K split inside the workgroup;
 *   gemm   prefill: workgroup-memory tiles, W dequantized while staged;
 *   tensor prefill on tensor cores (subgroup matrices), where the adapter has them.
 */
export type MatmulPath = 'gemv' | 'gemm' | 'tensor';

export type MatmulChoice =
  | { path: 'gemv'; spec: typeof matmulGemvSpec; config: MatmulGemvConfig }
  | { path: 'gemm'; spec: typeof matmulGemmSpec; config: MatmulGemmConfig }
  | { path: 'tensor'; spec: typeof matmulTensorSpec; config: MatmulTensorConfig };

/**
 * Up to this many rows of x, the GEMV wins: it takes 8 rows per pass and re-reads a workgroup's
 * rows of W (hot in cache) per pass. H200, Llama-3.1-8B Q4_0, decode-step GPU ms of the runner
 * at batch 4 / 8 / 12 / 16 / 24 / 32, same call: with the GEMV up to 32 rows 4.48 / 6.95 / 9.35
 * / 11.90 / 16.87 / 21.84; with the tensor GEMM (64-row tier, split-K) from 9 or 17 rows on 19.3-19.8
 * at every batch from 12 to 32. So 3 passes of the GEMV (24 rows) still win, 4 do not.
 */
export const GEMV_MAX_M = 24;
/** From this many rows of x, tensor cores pay for their f16 staging. */
export const TENSOR_MIN_M = 32;

export const MATMUL_SPECS = { gemv: matmulGemvSpec, gemm: matmulGemmSpec, tensor: matmulTensorSpec } as const;

/**
 * The GEMV for this M (decode: one row of x per sequence, up to GEMV_MAX_M). On the f16 path,
 * Q4_0/Q8_0 rows (K % 64 == 0) and Q6_K rows (K % 256 == 0: the lm_head of Q4_0 files, where the
 * f32 GEMV reached ~860 GB/s on an H200) take the int8-dot GEMV where the adapter has packed dot
 * products, over x quantized beforehand by matmulQuantizeXSpec (its caller runs that first): every
 * workgroup quantizing all of x again cost more than the dot products saved. H200, Llama-3.1-8B
 * Q4_0 decode step: batch 8 16.6 ms in-kernel vs 12.9 ms for the f32 GEMV; batch 1 4.77 ms
 * with x quantized in the kernel vs 4.34 ms pre-quantized, the quantizer's dispatch per linear
 * included (GPU time, same run, each measured twice).
 * (matmulGemvInt8Spec, x quantized inside, stays for callers without a quantizer pass.) The f32
 * path, the accuracy reference, keeps x exact unless `int8` says otherwise (adapters without
 * shader-f16 may still want the int8 GEMV's speed; tests of its wiring run there).
 */
export function decodeMatmulSpec(shape: MatmulShape, dev: DeviceInfo, int8 = shape.act === 'f16'): typeof matmulGemvSpec | typeof matmulGemvInt8Spec {
  if (int8 && matmulGemvInt8PreSpec.supports(shape, dev).length === 0) return matmulGemvInt8PreSpec;
  return matmulGemvSpec;
}

/** The variant for this M on this device (heuristic; a tuned table may say otherwise). */
export function chooseMatmulPath(shape: MatmulShape, dev: DeviceInfo): MatmulPath {
  if (shape.M <= GEMV_MAX_M) return 'gemv';
  // Tensor cores take f16 operands: on the f32 path they would round x to f16, so the f32 path
  // (the accuracy reference) never takes them.
  if (shape.act === 'f16' && shape.M >= TENSOR_MIN_M && matmulTensorSpec.supports(shape, dev).length === 0) return 'tensor';
  return 'gemm';
}

/** The variant for this shape with its default config. Cheap: call it per step if M varies. */
export function chooseMatmul(shape: MatmulShape, dev: DeviceInfo): MatmulChoice {
  switch (chooseMatmulPath(shape, dev)) {
    case 'gemv':
      return { path: 'gemv', spec: matmulGemvSpec, config: matmulGemvSpec.defaultConfig(shape, dev) };
    case 'tensor':
      return { path: 'tensor', spec: matmulTensorSpec, config: matmulTensorSpec.defaultConfig(shape, dev) };
    case 'gemm':
      return { path: 'gemm', spec: matmulGemmSpec, config: matmulGemmSpec.defaultConfig(shape, dev) };
  }
}

export * from './matmul-common.js';
export * from './matmul-formats.js';
export * from './matmul-gemv.js';
export * from './matmul-gemv-int8.js';
export * from './matmul-gemm.js';
export * from './matmul-tensor.js';
export * from './matmul-dequant.js';
