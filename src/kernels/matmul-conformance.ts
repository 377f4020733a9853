import type { ActDType } from '../core/dtype.js';
import type { Rng } from '../core/random.js';
import type { DeviceInfo } from '../gpu/device-info.js';
import type { AnyKernelSpec } from './spec.js';
import type { MatmulShape } from './matmul-common.js';
import { kMultiple, MATMUL_WEIGHT_FORMATS, type MatmulWeightFormat } from './matmul-formats.js';
import { matmulGemmSpec } from './matmul-gemm.js';
import { matmulGemvSpec } from './matmul-gemv.js';
import { matmulGemvInt8PreSpec, matmulGemvInt8Spec } from './matmul-gemv-int8.js';
import { matmulTensorSpec, type MatmulTensorConfig } from './matmul-tensor.js';
import { matmulDequantSpec, type MatmulDequantShape } from './matmul-dequant.js';
import type { ConformanceFamily } from './conformance-family.js';

/**
 * The matmul families of the conformance suite (spread into FAMILIES in conformance.ts).
 * Every weight format on every path, with awkward shapes: N and K not multiples of any tile
 * (K odd or K % 4 == 2 for f32/f16; whole blocks for block formats), M = 1, 2, 3, 17, 64, 513,
 * bias on and off. Shapes stay small: SwiftShader runs ~1 GFLOP/s and compiles slowly.
 */

type Case = [MatmulWeightFormat, number, number, number, boolean];

function cases(act: ActDType, list: Case[]): { label: string; shape: MatmulShape }[] {
  return list.map(([weight, M, N, K, bias]) => ({
    label: `${weight} ${M}x${N}x${K}${bias ? ' +bias' : ''}`,
    shape: { act, weight, M, N, K, bias },
  }));
}

/** A random shape: K a whole number of blocks (1..maxBlocks of 32, or 1..2 of 256), any for floats. */
function randomShape(act: ActDType, rng: Rng, maxM: number, maxN: number, maxK: number): MatmulShape {
  const weight = rng.pick(MATMUL_WEIGHT_FORMATS);
  const b = kMultiple(weight);
  const K = b === 1 ? rng.int(1, maxK) : b * rng.int(1, Math.max(1, Math.floor(maxK / b)) + (b === 256 ? 1 : 0));
  return { act, weight, M: rng.int(1, maxM), N: rng.int(1, maxN), K, bias: rng.next() < 0.5 };
}

const GEMV_CASES: Case[] = [
  ['f32', 1, 7, 1001, true], // odd K: element readers
  ['f32', 2, 33, 64, false],
  ['f32', 3, 17, 250, true], // K % 4 == 2
  ['f32', 17, 5, 36, false], // K % 8 == 4: second run of the last pack masked
  ['f16', 1, 9, 333, false],
  ['f16', 3, 20, 68, true],
  ['f16', 2, 6, 2, false],
  ['q8_0', 1, 37, 64, true],
  ['q8_0', 3, 19, 96, false],
  ['q4_0', 1, 37, 96, false],
  ['q4_0', 2, 70, 160, true],
  ['q4_0', 17, 5, 32, false],
  ['q5_0', 1, 37, 64, true],
  ['q5_0', 3, 19, 96, false],
  ['q4_k', 1, 37, 512, false],
  ['q4_k', 3, 19, 256, true],
  ['q6_k', 1, 37, 512, true],
  ['q6_k', 17, 9, 256, false],
  ['q8_0', 1, 70001, 32, false], // N past one grid dimension: 2-D grid
  // Q4_0/Q8_0 with an even number of blocks per row: one row of x takes the 'pairs' kernel
  // (N not a multiple of its rows per workgroup; one chunk of pairs, several, a partial last
  // one), several rows the split kernel with up to 8 rows of x per pass; odd block counts
  // above and here fall back to the split kernel.
  ['q4_0', 1, 37, 128, false],
  ['q4_0', 1, 70, 2112, true], // 33 pairs: a full chunk of 32 and a partial one
  ['q4_0', 1, 4100, 64, false], // the rows of a 4096-wide output, one workgroup partly past N
  ['q8_0', 1, 37, 192, true],
  ['q8_0', 1, 19, 2112, false],
  ['q8_0', 1, 4100, 64, true],
  ['q4_0', 2, 37, 128, true],
  ['q4_0', 3, 21, 192, false],
  ['q4_0', 8, 37, 128, false],
  ['q4_0', 8, 4100, 64, true],
  ['q4_0', 5, 9, 160, false], // odd block count, several rows
  ['q8_0', 2, 33, 128, false],
  ['q8_0', 3, 11, 160, true],
  ['q8_0', 8, 19, 160, true],
  ['q8_0', 8, 4097, 128, false],
];

// The int8-dot GEMV: Q4_0/Q8_0, K % 64 == 0. One pair of blocks (K = 64) and many (past one
// invocation's share: K = 14336 is 224 pairs), N not a multiple of the rows per workgroup,
// N past one grid dimension, rows of x in passes of up to 4 (a partial last pass: M = 5, 17).
// Q6_K, K % 256 == 0: one block, an odd number per row (K = 768, 1280, 2304: rows start at
// alternating alignment, 210 B being 2 mod 4), many (K = 14336), M = 1, 2, 3, 17, 32.
const GEMV_INT8_CASES: Case[] = [
  ['q4_0', 5, 33, 128, true],
  ['q4_0', 17, 19, 4096, false],
  ['q8_0', 8, 40, 192, false],
  ['q8_0', 32, 9, 2112, true],
  ['q4_0', 1, 37, 64, false],
  ['q4_0', 1, 70, 2112, true],
  ['q4_0', 1, 9, 14336, false],
  ['q4_0', 3, 21, 192, true],
  ['q4_0', 1, 70001, 64, false],
  ['q8_0', 1, 37, 64, true],
  ['q8_0', 1, 19, 2112, false],
  ['q8_0', 1, 9, 14336, true],
  ['q8_0', 2, 4100, 128, false],
  ['q6_k', 1, 37, 256, true],
  ['q6_k', 1, 19, 14336, false],
  ['q6_k', 2, 21, 1280, false],
  ['q6_k', 3, 9, 768, true],
  ['q6_k', 17, 11, 4096, false],
  ['q6_k', 32, 5, 2304, true],
];

function randomInt8Shape(act: ActDType, rng: Rng): MatmulShape {
  return { act, weight: rng.pick(['q4_0', 'q8_0'] as const), M: rng.int(1, 9), N: rng.int(1, 64), K: 64 * rng.int(1, 40), bias: rng.next() < 0.5 };
}

const GEMM_CASES: Case[] = [
  ['f32', 1, 7, 1001, true],
  ['f32', 17, 70, 99, false],
  ['f32', 64, 33, 64, false],
  ['f32', 513, 40, 36, true],
  ['f16', 17, 65, 333, true],
  ['f16', 64, 20, 68, false],
  ['f16', 513, 9, 30, false],
  ['q8_0', 1, 37, 96, true],
  ['q8_0', 513, 40, 64, false],
  ['q4_0', 17, 70, 160, false],
  ['q4_0', 64, 33, 96, true],
  ['q4_0', 300, 70, 160, false], // from 256 rows the tensor kernel stages Q4_0 a block per unit
  ['q5_0', 1, 33, 64, false],
  ['q5_0', 64, 65, 96, true],
  ['q4_k', 17, 40, 512, true],
  ['q4_k', 513, 19, 256, false],
  ['q6_k', 64, 37, 256, false],
  ['q6_k', 1, 9, 512, true],
];

// Split-K (gemm-grid.wgsl) at the default tile of each shape: slices that end inside a
// quant block (Q4_K's 256, KC = 384), a partial last slice and empty ones (K = 300 in 8 slices
// of 48: the last ends at 384), M past a tile edge, bias added once in the reduction.
const SPLIT_CASES: [...Case, number][] = [
  ['f32', 17, 70, 1001, true, 2],
  ['f32', 17, 70, 1001, false, 8],
  ['f16', 3, 33, 300, false, 8],
  ['q4_0', 64, 40, 1024, true, 4],
  ['q4_k', 5, 19, 768, false, 2],
  ['q6_k', 513, 9, 512, true, 2],
];

function splitCases(spec: AnyKernelSpec, act: ActDType, dev: DeviceInfo): { label: string; shape: MatmulShape; config: unknown }[] {
  return SPLIT_CASES.map(([weight, M, N, K, bias, splitK]) => {
    const shape: MatmulShape = { act, weight, M, N, K, bias };
    return { label: `${weight} ${M}x${N}x${K}${bias ? ' +bias' : ''} split-K ${splitK}`, shape, config: { ...spec.defaultConfig(shape, dev), splitK } };
  });
}

// The SwiGLU epilogue (matmul.tensor, MatmulShape.glu): F = N / 2 outputs not a multiple of the
// 16-wide tiles (a partial last pair), M past a tile edge, each format's reader; at the default
// config, and at configs that the defaults take only on large shapes: producer subgroups (prod),
// 4 x 4 result tiles per subgroup (two pairs across), double-buffered staging.
const GLU_CASES: [MatmulWeightFormat, number, number, number, Partial<MatmulTensorConfig>?][] = [
  ['f16', 64, 80, 64],
  ['q4_0', 33, 144, 128],
  ['q8_0', 130, 74, 96],
  ['q4_0', 200, 200, 256, { sgM: 2, sgN: 4, ti: 4, tj: 2, bk: 64, pad: 8, db: 0, prod: 8 }],
  ['f16', 77, 260, 96, { sgM: 4, sgN: 2, ti: 4, tj: 4, bk: 32, pad: 8, db: 0 }],
  ['q8_0', 40, 100, 160, { sgM: 2, sgN: 2, ti: 2, tj: 2, bk: 32, pad: 8, db: 1 }],
];

function gluCases(act: ActDType, dev: DeviceInfo): { label: string; shape: MatmulShape; config: unknown }[] {
  return GLU_CASES.map(([weight, M, N, K, cfg]) => {
    const shape: MatmulShape = { act, weight, M, N, K, bias: false, glu: true };
    const base = matmulTensorSpec.defaultConfig(shape, dev);
    return { label: `${weight} ${M}x${N}x${K} glu${cfg ? ` ${JSON.stringify(cfg)}` : ''}`, shape, config: { ...base, ...cfg } };
  });
}

export const MATMUL_FAMILIES: ConformanceFamily<MatmulShape>[] = [
  {
    spec: matmulGemvSpec,
    fixed: (act) => cases(act, GEMV_CASES),
    random: (act, rng) => randomShape(act, rng, 8, 64, 600),
    // K = 128 (4 blocks): the sweep covers the 'pairs' configs as well as the split ones
    small: (act) => ({ act, weight: 'q4_0', M: 1, N: 9, K: 128, bias: true }),
  },
  {
    spec: matmulGemvInt8Spec,
    fixed: (act) => cases(act, GEMV_INT8_CASES),
    random: randomInt8Shape,
    small: (act) => ({ act, weight: 'q4_0', M: 5, N: 9, K: 640, bias: true }), // M = 5: every mb of the space
  },
  {
    // the same GEMV over x quantized beforehand (packed on the CPU here)
    spec: matmulGemvInt8PreSpec,
    fixed: (act) => cases(act, GEMV_INT8_CASES),
    random: randomInt8Shape,
    small: (act) => ({ act, weight: 'q8_0', M: 2, N: 9, K: 640, bias: true }), // mb 1 and 2 (4: the fixed cases' default)
  },
  {
    spec: matmulGemmSpec,
    fixed: (act) => cases(act, GEMM_CASES),
    random: (act, rng) => randomShape(act, rng, 130, 70, 300),
    small: (act) => ({ act, weight: 'q4_0', M: 5, N: 40, K: 512, bias: true }), // K = 512: split-K 2 in the space
    configured: (act, dev) => splitCases(matmulGemmSpec, act, dev),
  },
  {
    spec: matmulTensorSpec,
    fixed: (act) => cases(act, GEMM_CASES),
    random: (act, rng) => randomShape(act, rng, 300, 150, 300),
    small: (act) => ({ act, weight: 'q4_0', M: 33, N: 40, K: 512, bias: true }),
    configured: (act, dev) => [...splitCases(matmulTensorSpec, act, dev), ...gluCases(act, dev)],
  },
];

/** Quantized W to f16 rows (the prefill GEMM's f16 copy of a layer's weights): every block format. */
export const MATMUL_DEQUANT_FAMILY: ConformanceFamily<MatmulDequantShape> = {
  spec: matmulDequantSpec,
  fixed: () =>
    (
      [
        ['q8_0', 7, 96],
        ['q4_0', 37, 160],
        ['q4_0', 1, 32], // one block
        ['q5_0', 3, 64],
        ['q4_k', 5, 512],
        ['q6_k', 9, 256],
        ['q6_k', 300, 256], // past one workgroup of packs
      ] as const
    ).map(([weight, N, K]) => ({ label: `${weight} ${N}x${K}`, shape: { weight, N, K } })),
  random: (_act, rng) => {
    const weight = rng.pick(['q8_0', 'q4_0', 'q5_0', 'q4_k', 'q6_k'] as const);
    const b = kMultiple(weight);
    return { weight, N: rng.int(1, 70), K: b * rng.int(1, b === 256 ? 2 : 8) };
  },
  small: () => ({ weight: 'q4_0', N: 19, K: 96 }),
};
