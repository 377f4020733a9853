import type { ActDType } from '../core/dtype.js';
import type { Rng } from '../core/random.js';
import type { GpuContext } from '../gpu/context.js';
import { runKernel } from './harness.js';
import { packedX, quantXMultiple, type Int8Format } from './int8-x.js';
import type { MatmulShape } from './matmul-common.js';
import { matmulQuantizeXSpec } from './matmul-gemv-int8.js';
import { GEMV_MAX_M } from './matmul.js';
import { rmsnormQuantXSpec, type RmsnormQuantXShape } from './rmsnorm.js';
import type { ConformanceFamily } from './conformance-family.js';
import type { HostTensors } from './spec.js';
import { swigluQuantXSpec, type SwigluQuantXShape } from './swiglu.js';

/**
 * The conformance families of the kernels that produce x and quantize it for the int8-dot GEMV in
 * the same pass (rmsnorm.quant-x, swiglu.quant-x; spread into FAMILIES in conformance.ts). Each
 * case checks out (and residual) against the CPU reference, xq / xs against the CPU's packing of
 * the kernel's own out (checkDerived), and then, on the GPU, that xq / xs are bit for bit what
 * matmul.quantize-x writes from that out: the words the GEMV would have read without the fusion.
 * Rows 1..GEMV_MAX_M (the decode GEMV's), widths whole pairs of blocks (Q6_K: 256-blocks), odd
 * numbers of pairs, and more pairs than invocations (the config sweep's small shape at WG 32).
 */

const FORMATS: readonly Int8Format[] = ['q4_0', 'q8_0', 'q6_k'];

/** A width of 1..maxUnits whole units of the format (64, or 256 for Q6_K). */
function randomWidth(rng: Rng, format: Int8Format, maxUnits: number): number {
  return quantXMultiple(format) * rng.int(1, format === 'q6_k' ? Math.max(1, maxUnits >> 2) : maxUnits);
}

/** xq / xs equal, word for word, matmul.quantize-x's from the kernel's out ([M, K] act). */
async function sameAsQuantizeX(ctx: GpuContext, got: HostTensors, act: ActDType, format: Int8Format, M: number, K: number): Promise<string | undefined> {
  const shape: MatmulShape = { act, weight: format, M, N: 1, K, bias: false };
  const missing = matmulQuantizeXSpec.supports(shape, ctx.info);
  if (missing.length) return `matmul.quantize-x cannot run this shape to compare with: ${missing.join('; ')}`;
  const inputs = { x: { dtype: act, shape: [M, K], data: got.out!.data }, ...packedX(M, K, format) };
  const want = await runKernel(ctx, matmulQuantizeXSpec, shape, matmulQuantizeXSpec.defaultConfig(shape, ctx.info), inputs);
  for (const name of ['xq', 'xs']) {
    const g = got[name]!.data;
    const w = want[name]!.data;
    const i = w.findIndex((v, j) => v !== g[j]);
    if (i >= 0 || g.length !== w.length) return `${name}[${i}] = ${g[i]}, matmul.quantize-x wrote ${w[i]} from the same out`;
  }
  return undefined;
}

const rms = (act: ActDType, mode: RmsnormQuantXShape['mode'], format: Int8Format, numRows: number, rowLen: number): RmsnormQuantXShape => ({
  act,
  mode,
  format,
  numRows,
  rowLen,
  eps: 1e-5,
});
const swiglu = (act: ActDType, format: Int8Format, numTokens: number, intermediateSize: number, fused = true): SwigluQuantXShape => ({
  act,
  format,
  numTokens,
  intermediateSize,
  fused,
});

export const QUANT_X_FAMILIES: ConformanceFamily[] = [
  {
    spec: rmsnormQuantXSpec,
    fixed: (act) => [
      { label: 'q4_0 1x64', shape: rms(act, 'plain', 'q4_0', 1, 64) },
      { label: `residual q8_0 ${GEMV_MAX_M}x320`, shape: rms(act, 'residual', 'q8_0', GEMV_MAX_M, 320) },
      { label: 'residual q6_k 3x2304', shape: rms(act, 'residual', 'q6_k', 3, 2304) },
    ],
    random: (act, rng) => {
      const format = rng.pick(FORMATS);
      return rms(act, rng.next() < 0.5 ? 'plain' : 'residual', format, rng.int(1, GEMV_MAX_M), randomWidth(rng, format, 40));
    },
    // 33 pairs a row: at WG 32 one invocation quantizes two
    small: (act) => rms(act, 'residual', 'q4_0', 5, 2112),
    crossCheck: (ctx, got, shape) => {
      const s = shape as RmsnormQuantXShape;
      return sameAsQuantizeX(ctx, got, s.act, s.format, s.numRows, s.rowLen);
    },
  },
  {
    spec: swigluQuantXSpec,
    fixed: (act) => [
      { label: 'q4_0 1x64', shape: swiglu(act, 'q4_0', 1, 64) },
      { label: `separate gate/up q8_0 ${GEMV_MAX_M}x320`, shape: swiglu(act, 'q8_0', GEMV_MAX_M, 320, false) },
      { label: 'q6_k 3x2304', shape: swiglu(act, 'q6_k', 3, 2304) },
    ],
    random: (act, rng) => {
      const format = rng.pick(FORMATS);
      return swiglu(act, format, rng.int(1, GEMV_MAX_M), randomWidth(rng, format, 40), rng.next() < 0.7);
    },
    small: (act) => swiglu(act, 'q4_0', 3, 1280),
    crossCheck: (ctx, got, shape) => {
      const s = shape as SwigluQuantXShape;
      return sameAsQuantizeX(ctx, got, s.act, s.format, s.numTokens, s.intermediateSize);
    },
  },
];
