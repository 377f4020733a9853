import type { ActDType } from '../core/dtype.js';
import { bf16BitsToF32, blockFormat, f32ToF16Bits, type QuantDType } from '../core/dtype.js';
import dequantBytes from '../../shaders/lib/dequant-bytes.wgsl?raw';
import dequantF32 from '../../shaders/lib/dequant-f32.wgsl?raw';
import dequantF32Any from '../../shaders/lib/dequant-f32-any.wgsl?raw';
import dequantF16 from '../../shaders/lib/dequant-f16.wgsl?raw';
import dequantF16Any from '../../shaders/lib/dequant-f16-any.wgsl?raw';
import dequantQ8_0 from '../../shaders/lib/dequant-q8_0.wgsl?raw';
import dequantQ4_0 from '../../shaders/lib/dequant-q4_0.wgsl?raw';
import dequantQ5_0 from '../../shaders/lib/dequant-q5_0.wgsl?raw';
import dequantQ4K from '../../shaders/lib/dequant-q4_k.wgsl?raw';
import dequantQ6K from '../../shaders/lib/dequant-q6_k.wgsl?raw';
import gemvPairQ4_0 from '../../shaders/lib/gemv-pair-q4_0.wgsl?raw';
import gemvPairQ8_0 from '../../shaders/lib/gemv-pair-q8_0.wgsl?raw';
import tensorWAny from '../../shaders/lib/tensor-w-any.wgsl?raw';
import tensorWF16 from '../../shaders/lib/tensor-w-f16.wgsl?raw';
import tensorWF16Oct from '../../shaders/lib/tensor-w-f16-oct.wgsl?raw';
import tensorWQ4_0 from '../../shaders/lib/tensor-w-q4_0.wgsl?raw';
import tensorWQ4_0Runs from '../../shaders/lib/tensor-w-q4_0-runs.wgsl?raw';
import tensorQ4_0Halves from '../../shaders/lib/tensor-q4_0-halves.wgsl?raw';
import tensorWQ8_0 from '../../shaders/lib/tensor-w-q8_0.wgsl?raw';
import tensorWUnits from '../../shaders/lib/tensor-w-units.wgsl?raw';
import tensorXAny from '../../shaders/lib/tensor-x-any.wgsl?raw';
import tensorXOct from '../../shaders/lib/tensor-x-oct.wgsl?raw';
import tensorXUnits from '../../shaders/lib/tensor-x-units.wgsl?raw';
import tensorXVec4 from '../../shaders/lib/tensor-x-vec4.wgsl?raw';
import xVec4 from '../../shaders/matmul-x-vec4.wgsl?raw';
import xScalar from '../../shaders/matmul-x-scalar.wgsl?raw';

/**
 * Weight storage formats the matmul kernels read directly, as the bytes lie in GGUF/safetensors
 * files. bf16 is not among them: convert it at load with `bf16ToF16` (or `bf16ToF32` when a
 * tensor has values beyond f16's range).
 */
export type MatmulWeightFormat = 'f32' | 'f16' | QuantDType;
export const MATMUL_WEIGHT_FORMATS: readonly MatmulWeightFormat[] = ['f32', 'f16', 'q8_0', 'q4_0', 'q5_0', 'q4_k', 'q6_k'];

/** K must be a multiple of this (the block size; 1 for f32/f16). */
export function kMultiple(format: MatmulWeightFormat): number {
  return blockFormat(format).blockElems;
}

/** Bytes of a [N, K] weight tensor in `format` (before padding to 4). */
export function weightByteSize(format: MatmulWeightFormat, N: number, K: number): number {
  const f = blockFormat(format);
  return (N * K * f.blockBytes) / f.blockElems;
}

const QUANT_LIBS: Record<QuantDType, string> = {
  q8_0: dequantQ8_0,
  q4_0: dequantQ4_0,
  q5_0: dequantQ5_0,
  q4_k: dequantQ4K,
  q6_k: dequantQ6K,
};

/**
 * The WGSL libraries that read W in `format` (see the interface in dequant-q4_0.wgsl). Float rows
 * are read with vector loads when K % 4 == 0 (the row starts aligned), element by element
 * otherwise. Depends only on static parts of the shape (the weight's format and K).
 */
export function weightLibs(format: MatmulWeightFormat, K: number): string[] {
  switch (format) {
    case 'f32':
      return [K % 4 === 0 ? dequantF32 : dequantF32Any];
    case 'f16':
      return [K % 4 === 0 ? dequantF16 : dequantF16Any];
    default:
      return [dequantBytes, QUANT_LIBS[format]];
  }
}

/** 32-bit words in a pair of Q4_0 / Q8_0 blocks (36 / 68 bytes), which the pair GEMVs read whole. */
export const PAIR_WORDS = { q4_0: 9, q8_0: 17 } as const;

/** Pair readers of the 'pairs' GEMV (shaders/matmul-gemv-pairs.wgsl), for the formats it takes. */
export const GEMV_PAIR_LIBS: Record<'q4_0' | 'q8_0', string> = { q4_0: gemvPairQ4_0, q8_0: gemvPairQ8_0 };

/** Rows of x from which Q4_0 W is staged a block per unit (below: 16 weights per unit). */
export const Q4_0_BLOCK_UNITS_MIN_M = 256;

/**
 * The tensor-core kernel's readers of x and W and their f16 staging units (x_unit, w_unit): f16
 * rows and Q4_0/Q8_0 blocks decode straight to halves; other formats narrow w_quad. Where K % 8
 * == 0, f16 x and f16 W are read 16 bytes per unit (the oct readers declare x / w_data themselves).
 */
export function tensorHalfLibs(act: ActDType, format: MatmulWeightFormat, K: number, M: number): string[] {
  // x: f16 activations with K % 8 == 0 stage 8 columns per 16-byte load (tensor-x-oct.wgsl declares
  // x itself); otherwise a quad reader over matmul-x-vec4/-scalar.wgsl's x, one quad per unit.
  const x = act === 'f16' && K % 8 === 0 ? [tensorXOct] : [xLib(K), K % 4 === 0 ? tensorXVec4 : tensorXAny, tensorXUnits];
  // W: Q4_0 decodes a block (8 quads) per unit itself, or 4 quads for few rows of x (there the
  // W loads bound the kernel and more invocations share them); the quad readers stage one
  // (tensor-w-units.wgsl)
  const quads = (reader: string) => [...weightLibs(format, K), reader, tensorWUnits];
  const w =
    format === 'f16' && K % 8 === 0
      ? [tensorWF16Oct]
      : format === 'q4_0'
        ? [...weightLibs(format, K), tensorQ4_0Halves, M >= Q4_0_BLOCK_UNITS_MIN_M ? tensorWQ4_0 : tensorWQ4_0Runs]
        : quads(format === 'f16' && K % 4 === 0 ? tensorWF16 : format === 'q8_0' ? tensorWQ8_0 : tensorWAny);
  return [...x, ...w];
}

/** The activation reader: vector loads when K % 4 == 0. */
export function xLib(K: number): string {
  return K % 4 === 0 ? xVec4 : xScalar;
}

/** Every WGSL file the matmul kernels may include (hashed into tune keys). */
export const MATMUL_LIB_SOURCES: readonly string[] = [
  dequantBytes,
  dequantF32,
  dequantF32Any,
  dequantF16,
  dequantF16Any,
  ...Object.values(QUANT_LIBS),
  xVec4,
  xScalar,
];

/** The tensor-core kernel's staging readers (tensorHalfLibs), hashed into its tune keys. */
export const TENSOR_HALF_LIB_SOURCES: readonly string[] = [tensorXVec4, tensorXAny, tensorXOct, tensorXUnits, tensorWAny, tensorWF16, tensorWF16Oct, tensorQ4_0Halves, tensorWQ4_0, tensorWQ4_0Runs, tensorWQ8_0, tensorWUnits];

/** `const NAME: u32 = v;` lines: sizes of register arrays, which WGSL overrides cannot give. */
export function constsWgsl(consts: Record<string, number>): string {
  return Object.entries(consts)
    .map(([k, v]) => `const ${k}: u32 = ${v >>> 0}u;`)
    .join('\n');
}

// ---- bf16 at load ----

const F16_MAX = 65504;

/**
 * bf16 -> f16 bits (round to nearest even), for weights stored in bf16 (safetensors): the
 * kernels read f16. Finite values beyond f16's range saturate to ±65504 and are counted in
 * `saturated`; a loader that sees saturated > 0 should use `bf16ToF32` for that tensor instead.
 * bits: [n] bf16 -> data: [n] f16 bits
 */
export function bf16ToF16(bits: Uint16Array): { data: Uint16Array; saturated: number } {
  const out = new Uint16Array(bits.length); // [n] f16 bits
  let saturated = 0;
  for (let i = 0; i < bits.length; i++) {
    const v = bf16BitsToF32(bits[i]!);
    if (Number.isFinite(v) && Math.abs(v) > F16_MAX) {
      out[i] = (v < 0 ? 0x8000 : 0) | 0x7bff;
      saturated++;
    } else {
      out[i] = f32ToF16Bits(v);
    }
  }
  return { data: out, saturated };
}

/** bf16 -> f32 (exact). bits: [n] bf16 -> [n] f32 */
export function bf16ToF32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length); // [n] f32
  const u = new Uint32Array(out.buffer);
  for (let i = 0; i < bits.length; i++) u[i] = bits[i]! << 16;
  return out;
}
