import { quantizeRowsQ8 } from '../core/reference/matmul.js';
import type { DeviceInfo } from '../gpu/device-info.js';
import { grid1d } from '../gpu/grid.js';
import source from '../../shaders/matmul-gemv-int8.wgsl?raw';
import int8Q4_0 from '../../shaders/lib/gemv-int8-q4_0.wgsl?raw';
import int8Q8_0 from '../../shaders/lib/gemv-int8-q8_0.wgsl?raw';
import reducePlain from '../../shaders/matmul-reduce-plain.wgsl?raw';
import reduceSubgroup from '../../shaders/matmul-reduce-subgroup.wgsl?raw';
import { workgroupSizes } from './common.js';
import {
  MATMUL_UNIFORMS,
  matmulBindings,
  matmulEntryPoint,
  matmulMakeInputs,
  matmulProblemKey,
  matmulReference,
  matmulShapeErrors,
  matmulTolerance,
  type MatmulShape,
} from './matmul-common.js';
import { constsWgsl, xLib } from './matmul-formats.js';
import type { KernelProgram, KernelSpec } from './spec.js';
import { composeWgsl } from './wgsl.js';

/**
 * The decode GEMV on int8 dot products (shaders/matmul-gemv-int8.wgsl) for Q4_0 and Q8_0 rows:
 * x is quantized per 32-block to int8 inside the kernel (as llama.cpp quantizes activations for
 * its quantized matmuls), and each block's dot product is exact integer arithmetic with
 * dot4I8Packed: about one instruction per weight where the f32 GEMV spends eight. Its result
 * differs from the exact product by x's quantization, so its reference quantizes x the same way;
 * the model uses it for f16 activations only (the f32 path stays the exact one).
 */
export interface MatmulGemvInt8Config {
  /** invocations per workgroup (power of two): invocation i owns pairs of blocks i, i + wg, ... */
  wg: number;
  /** rows of W (outputs) per workgroup */
  rows: number;
  /** rows whose loads are issued together (divides rows) */
  rb: number;
  reduce: 'plain' | 'subgroup';
}

const LIBS: Record<'q4_0' | 'q8_0', string> = { q4_0: int8Q4_0, q8_0: int8Q8_0 };
const PAIR_WORDS = { q4_0: 9, q8_0: 17 } as const;
/** Most pairs of blocks one invocation keeps quantized x for (16 registers each). */
const MAX_PL = 8;
/** Most weight words in flight per invocation (rb * words per pair). */
const MAX_WORDS = 72;

export function gemvInt8Applies(shape: MatmulShape): boolean {
  return (shape.weight === 'q4_0' || shape.weight === 'q8_0') && shape.K % 64 === 0;
}

function pairsPerLane(shape: MatmulShape, wg: number): number {
  return Math.ceil(shape.K / 64 / wg);
}

function fits(shape: MatmulShape, c: MatmulGemvInt8Config, dev: DeviceInfo): boolean {
  const words = PAIR_WORDS[shape.weight as 'q4_0' | 'q8_0'];
  const scratch = 4 * c.rows * (c.reduce === 'plain' ? c.wg : Math.ceil(c.wg / 4));
  return pairsPerLane(shape, c.wg) <= MAX_PL && c.rb * words <= MAX_WORDS && c.rows % c.rb === 0 && scratch <= dev.limits.maxComputeWorkgroupStorageSize;
}

function space(shape: MatmulShape, dev: DeviceInfo): MatmulGemvInt8Config[] {
  // With subgroups the plain (workgroup-memory tree) reduction only costs more.
  const reduces: MatmulGemvInt8Config['reduce'][] = dev.features.subgroups ? ['subgroup'] : ['plain'];
  const out: MatmulGemvInt8Config[] = [];
  for (const wg of workgroupSizes(dev, 32, 256)) {
    for (const rows of [16, 8, 32, 4]) {
      for (const rb of [2, 4, 1]) {
        for (const reduce of reduces) {
          const c = { wg, rows, rb, reduce };
          if (fits(shape, c, dev)) out.push(c);
        }
      }
    }
  }
  return out;
}

export const matmulGemvInt8Spec: KernelSpec<MatmulShape, MatmulGemvInt8Config> = {
  id: 'matmul.gemv-int8',
  sources: [source, int8Q4_0, int8Q8_0, reducePlain, reduceSubgroup],
  uniforms: MATMUL_UNIFORMS,
  bindings: matmulBindings,

  supports(shape, dev) {
    const r = matmulShapeErrors(shape, dev);
    if (!dev.features.packedDot) r.push("needs the WGSL language feature 'packed_4x8_integer_dot_product'");
    if (!gemvInt8Applies(shape)) r.push(`takes Q4_0 or Q8_0 weights with K a multiple of 64 (got ${shape.weight}, K = ${shape.K})`);
    else if (space(shape, dev).length === 0) r.push(`no config fits K = ${shape.K}`);
    return r;
  },

  space,

  defaultConfig(shape, dev) {
    // H200, Llama-3.1-8B shapes, best of the space: one load of each row's words at a time;
    // 32 invocations for Q4_0 (2 pairs each at K = 4096), 64 for Q8_0; few rows per workgroup
    // for outputs up to 4096 (enough workgroups to fill the GPU), more for wider ones.
    const q4 = shape.weight === 'q4_0';
    const want = { wg: q4 ? 32 : 64, rows: shape.N <= 4096 ? 4 : q4 ? 8 : 16, rb: 1 };
    const s = space(shape, dev);
    return (
      s.find((c) => c.wg === want.wg && c.rows === want.rows && c.rb === want.rb) ??
      s.find((c) => c.rows === want.rows && c.rb === want.rb) ??
      s[0] ?? { ...want, reduce: 'plain' }
    );
  },

  build(shape, cfg): KernelProgram {
    const consts = { WG: cfg.wg, ROWS: cfg.rows, PL: pairsPerLane(shape, cfg.wg), RB: cfg.rb };
    return {
      source: composeWgsl(source, {
        act: shape.act,
        uniforms: MATMUL_UNIFORMS,
        enables: cfg.reduce === 'subgroup' ? ['subgroups'] : [],
        libs: [constsWgsl(consts), xLib(shape.K), LIBS[shape.weight as 'q4_0' | 'q8_0'], cfg.reduce === 'subgroup' ? reduceSubgroup : reducePlain],
      }),
      entryPoint: matmulEntryPoint(shape),
      constants: {},
    };
  },

  dispatch(shape, cfg, dev) {
    return {
      grid: grid1d(Math.ceil(shape.N / cfg.rows), dev.limits.maxComputeWorkgroupsPerDimension),
      uniforms: { M: shape.M, N: shape.N, K: shape.K },
    };
  },

  problemKey: matmulProblemKey,
  outputs: () => ['y'],
  makeInputs: matmulMakeInputs,
  // The exact product with x as the kernel quantizes it.
  reference(inputs, shape) {
    const x = inputs.x!;
    const xq = quantizeRowsQ8(x.data as Float32Array, shape.M, shape.K);
    return matmulReference({ ...inputs, x: { ...x, data: xq } }, shape);
  },
  // Plus: where x * (127 / max|x|) lies within the GPU's division error of a rounding tie, the
  // kernel may round the other way: one step (max|x| / 127, < 6 / 127 for the N(0, 1) inputs)
  // times |w| <= 1, allowed for a few such elements in one output.
  tolerance(shape) {
    const t = matmulTolerance(shape);
    return { atol: t.atol + (3 * 6) / 127, rtol: t.rtol };
  },
};
