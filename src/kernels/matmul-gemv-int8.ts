import { quantizeRowsQ8, type Int8Format } from '../core/reference/matmul.js';
import type { DeviceInfo } from '../gpu/device-info.js';
import { grid1d } from '../gpu/grid.js';
import source from '../../shaders/matmul-gemv-int8.wgsl?raw';
import int8Q4_0 from '../../shaders/lib/gemv-int8-q4_0.wgsl?raw';
import int8Q8_0 from '../../shaders/lib/gemv-int8-q8_0.wgsl?raw';
import int8Q6K from '../../shaders/lib/gemv-int8-q6_k.wgsl?raw';
import int8Words from '../../shaders/lib/gemv-int8-words.wgsl?raw';
import int8XQuant from '../../shaders/lib/gemv-int8-x-quant.wgsl?raw';
import int8XPre from '../../shaders/lib/gemv-int8-x-pre.wgsl?raw';
import int8Quant from '../../shaders/lib/int8-quant.wgsl?raw';
import quantizeSource from '../../shaders/matmul-quantize-x.wgsl?raw';
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
  gemvReduceBytes,
  matmulTolerance,
  type MatmulShape,
} from './matmul-common.js';
import { constsWgsl, PAIR_WORDS, xLib } from './matmul-formats.js';
import { INT8_GROUPS, packedX, QUANT_X_LIB_SOURCES, quantXLibs } from './int8-x.js';
import type { BindingDecl, HostTensors, KernelProgram, KernelSpec } from './spec.js';
import { composeWgsl } from './wgsl.js';

// reachable beside the GEMV that reads those buffers (kernels/matmul.js)
export { createQuantizedX } from './int8-x.js';

/**
 * The decode GEMV on int8 dot products (shaders/matmul-gemv-int8.wgsl) for Q4_0, Q8_0 and Q6_K
 * rows (Q6_K: the lm_head of Q4_0 files, ffn_down/attn_v of some Q4_K_M layers):
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

// The format's pair reader, and for Q4_0/Q8_0 the shared raw-word loader it reads pairs with.
const LIBS: Record<Int8Format, string[]> = { q4_0: [int8Words, int8Q4_0], q8_0: [int8Words, int8Q8_0], q6_k: [int8Q6K] };
/** Words one pair of blocks (64 weights) loads: the format library's PW. */
const WORDS: Record<Int8Format, number> = { ...PAIR_WORDS, q6_k: 21 };

/**
 * Whether the int8 GEMVs take this shape's weights: Q4_0/Q8_0 with whole pairs of blocks
 * (K % 64 == 0), Q6_K with whole blocks (K % 256 == 0). A pair is 64 columns in every case.
 */
export function int8GemvApplies(shape: MatmulShape): boolean {
  return ((shape.weight === 'q4_0' || shape.weight === 'q8_0') && shape.K % 64 === 0) || (shape.weight === 'q6_k' && shape.K % 256 === 0);
}

/** Most pairs of blocks one invocation keeps quantized x for (16 registers each), over all rows of a pass. */
const MAX_PL = 8;
/** Most weight words in flight per invocation (rb * words per pair). */
const MAX_WORDS = 72;

function pairsPerLane(shape: MatmulShape, wg: number): number {
  return Math.ceil(shape.K / 64 / wg);
}

function fits(shape: MatmulShape, c: MatmulGemvInt8Config, dev: DeviceInfo): boolean {
  const words = WORDS[shape.weight as Int8Format];
  const sums = c.rows * c.mb; // reduced together: one per invocation at most
  return pairsPerLane(shape, c.wg) * c.mb <= MAX_PL && sums <= c.wg && c.rb * words <= MAX_WORDS && c.rows % c.rb === 0 && gemvReduceBytes(sums, c.wg, c.reduce) <= dev.limits.maxComputeWorkgroupStorageSize;
}

function space(shape: MatmulShape, dev: DeviceInfo): MatmulGemvInt8Config[] {
  // With subgroups the plain (workgroup-memory tree) reduction only costs more.
  const reduces: MatmulGemvInt8Config['reduce'][] = dev.features.subgroups ? ['subgroup'] : ['plain'];
  const out: MatmulGemvInt8Config[] = [];
  // More rows of x per pass than M only repeats work.
  const mbs = [1, 2, 4].filter((mb) => mb <= bucket(shape.M));
  for (const mb of mbs) {
    // 32 rows per workgroup never won on the H200 sweep (within noise at best), nor 8 rows' loads
    // at a time (Q4_0, M = 1: gate_proj 2374 GB/s against 2553 with 4, down_proj 1395 / 1771 at
    // 8 rows): left out, so that the conformance sweep over the space stays short. 2 rows: the
    // most workgroups, for Q4_0 at one row of x (see defaultConfig).
    for (const wg of workgroupSizes(dev, 32, 256)) {
      for (const rows of [16, 8, 4, 2]) {
        for (const rb of [4, 2, 1]) {
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

const int8Base = {
  uniforms: MATMUL_UNIFORMS,

  supports(shape: MatmulShape, dev: DeviceInfo) {
    const r = matmulShapeErrors(shape, dev);
    if (!dev.features.packedDot) r.push("needs the WGSL language feature 'packed_4x8_integer_dot_product'");
    if (!int8GemvApplies(shape)) r.push(`takes Q4_0/Q8_0 weights with K a multiple of 64, or Q6_K with K a multiple of 256 (got ${shape.weight}, K = ${shape.K})`);
    else if (space(shape, dev).length === 0) r.push(`no config fits K = ${shape.K}`);
    return r;
  },

  space,

  defaultConfig(shape: MatmulShape, dev: DeviceInfo): MatmulGemvInt8Config {
    // H200, bench/gemv-probe.ts --kernel int8-pre over the space at Llama-3.1-8B shapes, steady
    // clocks, x quantized beforehand, 64 invocations (128 or 256 were slower throughout).
    // One row of x: what bounds the kernel is loads in flight (a Q4_0 pair is 9 words), so few
    // rows per workgroup (more workgroups) and two rows' loads issued before either is used.
    // Without Dawn's bounds clamps (Node's default, platform/node/gpu.ts), same call, copy 4272
    // GB/s read+write, the previous default (Q4_0: 2-8 rows with 4 rows' loads at a time; Q8_0
    // and Q6_K: 8-16 rows) -> this one: Q4_0 gate_up 28672 x 4096 1516 -> 3139 GB/s, lm_head
    // 1911 -> 3933, gate_proj 1866 -> 2465, down_proj 2248 -> 2467, q_proj and qkv unchanged
    // (1445, 1755); Q8_0 2 rows up to 8192 outputs (q_proj 1647 -> 1889, down_proj 2158 -> 2940,
    // qkv 2184 -> 2233) and 8 beyond (gate_proj 2154 -> 3087, gate_up 2692 -> 3313, lm_head 3094
    // -> 4149); Q6_K lm_head 2728 -> 3700 (below 8192 outputs, Q4_K_M's v/down, it follows Q8_0
    // untimed). 4 rows per workgroup fell to 1.1-1.4 TB/s on the wide Q8_0 shapes.
    // Several rows of x: 4 per pass (each pair's words serve 4 rows), 8 rows of W. Q4_0, same
    // probe without the clamps: 2 rows of x per pass and 4 rows of W (two rows' loads at a time)
    // beat that at M = 8 (q_proj 404 -> 555 GB/s of W, qkv 482 -> 659, down_proj 634 -> 738) and
    // at M = 32 (q_proj 122 -> 171, qkv 141 -> 201, gate_up 168 -> 228, down_proj 176 -> 204).
    // Q8_0 and Q6_K with several rows were not re-timed.
    // Q4_0 at one row of x, one subgroup per workgroup (bench/gemv-probe.js --kernel int8-pre over
    // the whole space, H200, same call, GB/s against 64 invocations): down_proj 2468 -> 2831,
    // q_proj 1431 -> 1564, qkv 1756 -> 1863, gate_up 3144 -> 3337; twice the workgroups, each
    // without a second subgroup to wait for in the reduction.
    const q4 = shape.weight === 'q4_0';
    const mb = Math.min(q4 ? 2 : 4, bucket(shape.M));
    const oneSubgroup = dev.features.subgroups ? Math.max(32, dev.subgroupMaxSize) : 64;
    const want =
      mb === 1
        ? { wg: q4 ? oneSubgroup : 64, rows: q4 || shape.N <= 8192 ? 2 : 8, mb, rb: 2 }
        : { wg: 64, rows: q4 ? 4 : 8, mb, rb: 2 };
    const s = space(shape, dev);
    return (
      s.find((c) => c.wg === want.wg && c.rows === want.rows && c.mb === want.mb && c.rb === want.rb) ??
      s.find((c) => c.rows === want.rows && c.mb === want.mb && c.rb === want.rb) ??
      s.find((c) => c.mb === want.mb) ??
      s[0] ?? { ...want, reduce: 'plain' }
    );
  },

  dispatch(shape: MatmulShape, cfg: MatmulGemvInt8Config, dev: DeviceInfo) {
    return {
      grid: grid1d(Math.ceil(shape.N / cfg.rows), dev.limits.maxComputeWorkgroupsPerDimension),
      uniforms: { M: shape.M, N: shape.N, K: shape.K },
    };
  },

  problemKey: matmulProblemKey,
  outputs: () => ['y'],
};

/** The exact product with x as the int8 GEMVs see it (quantizeRowsQ8: the kernels' rounding). */
function quantizedXReference(inputs: HostTensors, shape: MatmulShape): HostTensors {
  const x = inputs.x!;
  return matmulReference({ ...inputs, x: { ...x, data: quantizeRowsQ8(x.data as Float32Array, shape.M, shape.K) } }, shape);
}

/** pre: x quantized beforehand (matmulQuantizeXSpec); else quantized inside the GEMV. */
function buildInt8(shape: MatmulShape, cfg: MatmulGemvInt8Config, pre: boolean): KernelProgram {
  const fmt = shape.weight as Int8Format;
  const consts = { WG: cfg.wg, ROWS: cfg.rows, MB: cfg.mb, PL: pairsPerLane(shape, cfg.wg), RB: cfg.rb };
  const xLibs = pre ? [int8XPre] : [xLib(shape.K), int8Quant, INT8_GROUPS[fmt], int8XQuant];
  return {
    source: composeWgsl(source, {
      act: shape.act,
      uniforms: MATMUL_UNIFORMS,
      enables: cfg.reduce === 'subgroup' ? ['subgroups'] : [],
      libs: [constsWgsl(consts), ...LIBS[fmt], ...xLibs, cfg.reduce === 'subgroup' ? reduceSubgroup : reducePlain, gemvEntry],
    }),
    entryPoint: matmulEntryPoint(shape),
    constants: {},
  };
}

const INT8_SOURCES = [source, int8Words, int8Q4_0, int8Q8_0, int8Q6K, int8Quant, ...Object.values(INT8_GROUPS), gemvEntry, reducePlain, reduceSubgroup];

export const matmulGemvInt8Spec: KernelSpec<MatmulShape, MatmulGemvInt8Config> = {
  ...int8Base,
  id: 'matmul.gemv-int8',
  sources: [...INT8_SOURCES, int8XQuant],
  bindings: matmulBindings,
  build: (shape, cfg) => buildInt8(shape, cfg, false),
  makeInputs: matmulMakeInputs,
  reference: quantizedXReference,
  // Plus: where x * (127 / max|x|) lies within the GPU's division error of a rounding tie, the
  // kernel may round the other way: one step (max|x| / 127, < 6 / 127 for the N(0, 1) inputs)
  // times |w| <= 1, allowed for a few such elements in one output.
  tolerance(shape) {
    const t = matmulTolerance(shape);
    return { atol: t.atol + (3 * 6) / 127, rtol: t.rtol };
  },
};

/**
 * The same GEMV over x quantized beforehand by matmulQuantizeXSpec (several rows of x: each
 * workgroup would otherwise quantize every row). Bindings: matmulBindings' with xq at 0 in place
 * of x, and xs at 5.
 */
export const matmulGemvInt8PreSpec: KernelSpec<MatmulShape, MatmulGemvInt8Config> = {
  ...int8Base,
  id: 'matmul.gemv-int8-pre',
  sources: [...INT8_SOURCES, int8XPre],
  bindings: (shape) => [
    { name: 'xq', binding: 0, kind: 'storage-read' }, // [M, K/64, 16] u32
    ...matmulBindings(shape).filter((b) => b.name !== 'x'),
    { name: 'xs', binding: 5, kind: 'storage-read' }, // [M, K/64, 4] u32
  ],
  build: (shape, cfg) => buildInt8(shape, cfg, true),
  makeInputs(shape, seed) {
    const inputs = matmulMakeInputs(shape, seed);
    return { ...inputs, ...packedX(shape.M, shape.K, shape.weight as Int8Format, inputs.x!.data as Float32Array) };
  },
  // Its inputs are already quantized (packRowsQ8, the same rounding as quantizeRowsQ8): only
  // the f32 sums' order differs from the reference.
  reference: quantizedXReference,
  tolerance: (shape) => matmulTolerance(shape),
};

/** Invocations per workgroup of matmulQuantizeXSpec (one pair of blocks each). */
const QUANTIZE_WG = 64;

/**
 * x quantized for matmulGemvInt8PreSpec (shaders/matmul-quantize-x.wgsl): one dispatch per x per
 * step, where the kernel that produces x does not write it itself (rmsnorm.quant-x,
 * swiglu.quant-x, whose conformance cases compare their words with this kernel's). Not in the
 * conformance families: its reference is bit-exact, and where x * 127 / max|x| lies within the
 * GPU's division error of a rounding tie a byte may differ by one; it is checked against the CPU
 * packing allowing that, and through the GEMV that reads it (test/kernels/matmul-int8-pre.test.ts). The model takes
 * its config from defaultConfig (one config: nothing to tune).
 */
export const matmulQuantizeXSpec: KernelSpec<MatmulShape, { wg: number }> = {
  id: 'matmul.quantize-x',
  sources: [quantizeSource, ...QUANT_X_LIB_SOURCES],
  uniforms: MATMUL_UNIFORMS,
  bindings: (): BindingDecl[] => [
    { name: 'x', binding: 0, kind: 'storage-read' },
    { name: 'xq', binding: 1, kind: 'storage' },
    { name: 'xs', binding: 2, kind: 'storage' },
    { name: 'params', binding: 3, kind: 'uniform' },
  ],
  supports: (shape: MatmulShape, dev: DeviceInfo) => int8Base.supports(shape, dev),
  space: () => [{ wg: QUANTIZE_WG }],
  defaultConfig: () => ({ wg: QUANTIZE_WG }),
  build(shape: MatmulShape, cfg: { wg: number }): KernelProgram {
    return {
      source: composeWgsl(quantizeSource, {
        act: shape.act,
        uniforms: MATMUL_UNIFORMS,
        libs: [constsWgsl({ WG: cfg.wg }), xLib(shape.K), ...quantXLibs(shape.weight as Int8Format)],
      }),
      entryPoint: 'main',
      constants: {},
    };
  },
  dispatch(shape: MatmulShape, cfg: { wg: number }, dev: DeviceInfo) {
    return {
      grid: grid1d(Math.ceil((shape.M * shape.K) / 64 / cfg.wg), dev.limits.maxComputeWorkgroupsPerDimension),
      uniforms: { M: shape.M, N: shape.N, K: shape.K },
    };
  },
  problemKey: (shape: MatmulShape) => `quantize-x:${matmulProblemKey(shape)}`,
  outputs: () => ['xq', 'xs'],
  makeInputs: (shape, seed) => ({ x: matmulMakeInputs(shape, seed).x!, ...packedX(shape.M, shape.K, shape.weight as Int8Format) }),
  reference: (inputs, shape) => packedX(shape.M, shape.K, shape.weight as Int8Format, inputs.x!.data as Float32Array),
  tolerance: () => ({ atol: 0, rtol: 0 }),
};
