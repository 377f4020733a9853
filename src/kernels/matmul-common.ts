import type { ActDType } from '../core/dtype.js';
import { roundAs } from '../core/dtype.js';
import { Rng } from '../core/random.js';
import { dequantize, quantize } from '../core/reference/dequant.js';
import { swigluRef } from '../core/reference/elementwise.js';
import { matmulRef } from '../core/reference/matmul.js';
import type { DeviceInfo } from '../gpu/device-info.js';
import { actSupport, bucket, randomAct, zerosAct } from './common.js';
import { kMultiple, weightByteSize, type MatmulWeightFormat } from './matmul-formats.js';
import type { BindingDecl, HostTensors, Tolerance } from './spec.js';

/**
 * One matmul problem: y[M, N] = x[M, K] · W[N, K]^T (+ bias[N]).
 * M varies per step (numTokens, or numSeqs for lm_head); N, K, the formats and the bias are
 * fixed by the weight, so one compiled pipeline serves every M.
 */
export interface MatmulShape {
  /** storage type of x and y */
  act: ActDType;
  /** storage format of W (bf16 is converted at load: see bf16ToF16) */
  weight: MatmulWeightFormat;
  /** rows of x and y */
  M: number;
  /** output features: rows of W */
  N: number;
  /** input features: columns of W; a multiple of the block size (32 or 256) for block formats */
  K: number;
  bias: boolean;
  /**
   * SwiGLU epilogue (matmul.tensor only): W stacks the gate rows over the up rows ([2F, K], N =
   * 2F) and y is [M, F], y[m, f] = silu(x[m] . W[f]) * (x[m] . W[F + f]): a fused gate|up
   * projection and its activation in one pass, without writing the [M, 2F] product. No bias.
   */
  glu?: boolean;
}

export const MATMUL_UNIFORMS = { M: 'u32', N: 'u32', K: 'u32' } as const;

/**
 * The same bindings for every matmul variant, so a model can swap variants per step. One
 * exception: matmul.gemv-int8-pre reads x quantized beforehand (xq at 0, xs at 5; its caller runs
 * matmul.quantize-x first), which src/model/linear.ts wires up.
 */
export function matmulBindings(shape: MatmulShape): BindingDecl[] {
  return [
    { name: 'x', binding: 0, kind: 'storage-read' }, // [M, K] act
    { name: 'w', binding: 1, kind: 'storage-read' }, // [N, K] in shape.weight's format, raw bytes padded to 4
    ...(shape.bias ? [{ name: 'bias', binding: 2, kind: 'storage-read' } as const] : []), // [N] f32
    { name: 'y', binding: 3, kind: 'storage' }, // [M, N] act
    { name: 'params', binding: 4, kind: 'uniform' },
  ];
}

export function matmulEntryPoint(shape: MatmulShape): string {
  return shape.bias ? 'main_bias' : 'main';
}

/** Columns of y: N, or F = N / 2 with the SwiGLU epilogue. */
export function matmulOutputColumns(shape: MatmulShape): number {
  return shape.glu ? shape.N / 2 : shape.N;
}

/**
 * Reasons common to every variant that this shape cannot run here. `glu`: whether the variant
 * has the SwiGLU epilogue (MatmulShape.glu).
 */
export function matmulShapeErrors(shape: MatmulShape, dev: DeviceInfo, opts: { glu?: boolean } = {}): string[] {
  const reasons = actSupport(shape.act, dev);
  if (shape.glu && !opts.glu) reasons.push('the SwiGLU epilogue (glu) is matmul.tensor\'s only; run swiglu after the matmul');
  if (shape.glu && (shape.N % 2 !== 0 || shape.bias)) reasons.push(`the SwiGLU epilogue needs gate and up rows of W (N even, got ${shape.N}) and no bias`);
  const { M, N, K } = shape;
  if (![M, N, K].every((d) => Number.isInteger(d) && d >= 1)) reasons.push(`M, N, K must be positive integers (got ${M}, ${N}, ${K})`);
  const km = kMultiple(shape.weight);
  if (K % km !== 0) reasons.push(`K = ${K} must be a multiple of ${km} for ${shape.weight} weights`);
  const actBytes = shape.act === 'f16' ? 2 : 4;
  const limit = dev.limits.maxStorageBufferBindingSize;
  if (K % km === 0 && weightByteSize(shape.weight, N, K) > limit) reasons.push(`W is larger than maxStorageBufferBindingSize (${limit})`);
  if (M * K * actBytes > limit || M * N * actBytes > limit) reasons.push(`x or y is larger than maxStorageBufferBindingSize (${limit})`);
  return reasons;
}

export function matmulProblemKey(s: MatmulShape): string {
  return `${s.act}:${s.weight}${s.bias ? '+bias' : ''}${s.glu ? '+glu' : ''}:m${bucket(s.M)}:n${s.N}:k${s.K}`;
}

/** Random weights [N, K] (uniform in ±1) encoded in `format`, as the bytes a file would hold. */
export function randomWeights(rng: Rng, format: MatmulWeightFormat, N: number, K: number): HostTensors[string] {
  const values = new Float32Array(N * K); // [N, K] f32
  for (let i = 0; i < values.length; i++) values[i] = rng.uniform(-1, 1);
  if (format === 'f32') return { dtype: 'f32', shape: [N, K], data: values };
  return { dtype: 'bytes', shape: [N, K], data: quantize(format, values) };
}

export function matmulMakeInputs(shape: MatmulShape, seed: number): HostTensors {
  const rng = new Rng(seed);
  const { M, N, K } = shape;
  const bias = new Float32Array(N); // [N] f32
  for (let i = 0; i < N; i++) bias[i] = rng.uniform(-1, 1);
  return {
    x: randomAct(rng, shape.act, [M, K]),
    w: randomWeights(rng, shape.weight, N, K),
    ...(shape.bias ? { bias: { dtype: 'f32', shape: [N], data: bias } } : {}),
    y: zerosAct(shape.act, [M, matmulOutputColumns(shape)]),
  };
}

/** W's values as f32, however it is stored. w: [N, K] -> [N * K] f32 */
export function weightValues(w: HostTensors[string], format: MatmulWeightFormat, N: number, K: number): Float32Array {
  if (format === 'f32') return w.data as Float32Array;
  const bytes = w.data as Uint8Array;
  return dequantize(format, bytes, N * K);
}

export function matmulReference(inputs: HostTensors, shape: MatmulShape): HostTensors {
  const { M, N, K } = shape;
  const w = weightValues(inputs.w!, shape.weight, N, K);
  const bias = shape.bias ? (inputs.bias!.data as Float32Array) : undefined;
  if (shape.glu) {
    // the projections unrounded (the kernel keeps them in f32), then the activation, rounded once
    const gateUp = matmulRef(inputs.x!.data as Float32Array, w, bias, M, N, K, (v) => v);
    return { y: { dtype: shape.act, shape: [M, N / 2], data: swigluRef(gateUp, M, N / 2, roundAs(shape.act)) } };
  }
  const y = matmulRef(inputs.x!.data as Float32Array, w, bias, M, N, K, roundAs(shape.act));
  return { y: { dtype: shape.act, shape: [M, N], data: y } };
}

/**
 * Tolerances for sums of K products of x ~ N(0, 1) and |w| < 1 (|y| ~ 0.6 sqrt(K)): f32 sums in
 * another order differ from the f64 reference by a few ulps of the partial sums, which grow like
 * sqrt(K); f16 storage adds one rounding of y (up to an ulp, 2^-10, since WGSL lets conversions
 * round either way); `f16Inputs` (the tensor-core path) rounds x and W to f16 before multiplying.
 */
export function matmulTolerance(shape: MatmulShape, f16Inputs = false): Tolerance {
  const grow = Math.max(1, Math.sqrt(shape.K / 16));
  if (shape.glu) {
    // silu(g) * u carries the errors of g and u times the other factor (|y| ~ 0.6 sqrt(K)): a
    // swapped, shifted or missing column still misses by ~|y|^2
    const t = matmulTolerance({ ...shape, glu: false }, f16Inputs);
    return { atol: t.atol * (1 + Math.sqrt(shape.K)), rtol: 2 * t.rtol };
  }
  if (f16Inputs) return { atol: 6e-3 * grow, rtol: 4e-3 };
  return shape.act === 'f32' ? { atol: 1e-4 * grow, rtol: 1e-4 } : { atol: 1e-3 * grow, rtol: 2e-3 };
}

/**
 * Workgroup memory of the GEMV reductions (matmul-reduce-plain / -subgroup.wgsl) for `sums` sums
 * at once: the plain tree keeps one f32 per invocation and sum, the subgroup one per subgroup
 * (subgroups of at least 4).
 */
export function gemvReduceBytes(sums: number, wg: number, reduce: 'plain' | 'subgroup'): number {
  return 4 * sums * (reduce === 'plain' ? wg : Math.ceil(wg / 4));
}
