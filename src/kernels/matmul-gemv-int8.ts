import { quantizeRowsQ8 } from '../core/reference/matmul.js';
import type { DeviceInfo } from '../gpu/device-info.js';
import { grid1d } from '../gpu/grid.js';
import source from '../../shaders/matmul-gemv-int8.wgsl?raw';
import int8Q4_0 from '../../shaders/lib/gemv-int8-q4_0.wgsl?raw';
import int8Q8_0 from '../../shaders/lib/gemv-int8-q8_0.wgsl?raw';
import gemvEntry from '../../shaders/matmul-gemv-entry.wgsl?raw';
import reducePlain from '../../shaders/matmul-reduce-plain.wgsl?raw';
import reduceSubgroup from '../../shaders/matmul-reduce-subgroup.wgsl?raw';
import { bucket, workgroupSizes } from './common.js';
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
  /** rows of x per pass over the workgroup's rows of W (quantized x in registers: PL * mb pairs) */
  mb: number;
  /** rows whose loads are issued together (divides rows) */
  rb: number;
  reduce: 'plain' | 'subgroup';
}

const LIBS: Record<'q4_0' | 'q8_0', string> = { q4_0: int8Q4_0, q8_0: int8Q8_0 };
const PAIR_WORDS = { q4_0: 9, q8_0: 17 } as const;
/** Most pairs of blocks one invocation keeps quantized x for (16 registers each), over all rows of a pass. */
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
  const sums = c.rows * c.mb; // reduced together: one per invocation at most
  return pairsPerLane(shape, c.wg) * c.mb <= MAX_PL && sums <= c.wg && c.rb * words <= MAX_WORDS && c.rows % c.rb === 0 && scratch * c.mb <= dev.limits.maxComputeWorkgroupStorageSize;
}

function space(shape: MatmulShape, dev: DeviceInfo): MatmulGemvInt8Config[] {
  // With subgroups the plain (workgroup-memory tree) reduction only costs more.
  const reduces: MatmulGemvInt8Config['reduce'][] = dev.features.subgroups ? ['subgroup'] : ['plain'];
  const out: MatmulGemvInt8Config[] = [];
  // More rows of x per pass than M only repeats work.
  const mbs = [1, 2, 4].filter((mb) => mb <= bucket(shape.M));
  for (const mb of mbs) {
    for (const wg of workgroupSizes(dev, 32, 256)) {
      for (const rows of [16, 8, 32, 4]) {
        for (const rb of [2, 4, 1]) {
          for (const reduce of reduces) {
            const c = { wg, rows, mb, rb, reduce };
            if (fits(shape, c, dev)) out.push(c);
          }
        }
      }
    }
  }
  return out;
}

export const matmulGemvInt8Spec: KernelSpec<MatmulShape, MatmulGemvInt8Config> = {
  id: 'matmul.gemv-int8',
  sources: [source, int8Q4_0, int8Q8_0, gemvEntry, reducePlain, reduceSubgroup],
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
    // H200, every config of the space on the Llama-3.1-8B shapes (bench/gemv-probe.ts --kernel
    // int8): 64 invocations; 8 rows per workgroup up to 8192 outputs, 16 beyond (qkv 6144 x 4096:
    // 1.23 TB/s, gate_up 28672 x 4096: 1.9-2.1 TB/s; Q8_0 1.8 / 2.8 TB/s); one row's loads at a
    // time for Q4_0, two for Q8_0 (within the noise of the alternatives).
    // Several rows of x: 4 per pass (each pair's words serve 4 rows), 8 rows of W.
    const mb = Math.min(4, bucket(shape.M));
    const want = { wg: 64, rows: mb > 1 || shape.N <= 8192 ? 8 : 16, mb, rb: shape.weight === 'q4_0' ? 1 : 2 };
    const s = space(shape, dev);
    return (
      s.find((c) => c.wg === want.wg && c.rows === want.rows && c.mb === want.mb && c.rb === want.rb) ??
      s.find((c) => c.rows === want.rows && c.mb === want.mb && c.rb === want.rb) ??
      s.find((c) => c.mb === want.mb) ??
      s[0] ?? { ...want, reduce: 'plain' }
    );
  },

  build(shape, cfg): KernelProgram {
    const consts = { WG: cfg.wg, ROWS: cfg.rows, MB: cfg.mb, PL: pairsPerLane(shape, cfg.wg), RB: cfg.rb };
    return {
      source: composeWgsl(source, {
        act: shape.act,
        uniforms: MATMUL_UNIFORMS,
        enables: cfg.reduce === 'subgroup' ? ['subgroups'] : [],
        libs: [constsWgsl(consts), xLib(shape.K), LIBS[shape.weight as 'q4_0' | 'q8_0'], cfg.reduce === 'subgroup' ? reduceSubgroup : reducePlain, gemvEntry],
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
