import { roundAs, type QuantDType } from '../core/dtype.js';
import { Rng } from '../core/random.js';
import { grid1d } from '../gpu/grid.js';
import source from '../../shaders/matmul-dequant.wgsl?raw';
import { workgroupSizes } from './common.js';
import { randomWeights, weightValues } from './matmul-common.js';
import { kMultiple, MATMUL_LIB_SOURCES, weightLibs } from './matmul-formats.js';
import type { HostTensors, KernelSpec } from './spec.js';
import { TOLERANCE } from './spec.js';
import { composeWgsl } from './wgsl.js';

/**
 * Quantized matmul weights to f16 rows (shaders/matmul-dequant.wgsl): the model runs it before a
 * prompt chunk's tensor-core GEMM, which then reads f16 W (LinearOptions.dequant).
 */
export interface MatmulDequantShape {
  weight: QuantDType;
  /** rows (outputs) */
  N: number;
  /** columns: a whole number of the format's blocks */
  K: number;
}

export interface MatmulDequantConfig {
  wg: number;
}

const UNIFORMS = { N: 'u32', K: 'u32' } as const;

export const matmulDequantSpec: KernelSpec<MatmulDequantShape, MatmulDequantConfig> = {
  id: 'matmul.dequant-f16',
  sources: [source, ...MATMUL_LIB_SOURCES],
  uniforms: UNIFORMS,
  bindings: () => [
    { name: 'w', binding: 0, kind: 'storage-read' },
    { name: 'out', binding: 1, kind: 'storage' },
    { name: 'params', binding: 2, kind: 'uniform' },
  ],
  supports(s) {
    const r: string[] = [];
    if (!(Number.isInteger(s.N) && s.N >= 1)) r.push(`N must be a positive integer, got ${s.N}`);
    const b = kMultiple(s.weight);
    if (!(Number.isInteger(s.K) && s.K >= b && s.K % b === 0)) r.push(`K ${s.K} must be a whole number of ${s.weight} blocks (${b})`);
    return r;
  },
  space: (_s, dev) => workgroupSizes(dev, 64, 512).map((wg) => ({ wg })),
  defaultConfig: () => ({ wg: 256 }),
  build(s, cfg) {
    return { source: composeWgsl(source, { uniforms: UNIFORMS, libs: weightLibs(s.weight, s.K) }), entryPoint: 'main', constants: { WG: cfg.wg } };
  },
  dispatch(s, cfg, dev) {
    return { grid: grid1d(Math.ceil((s.N * s.K) / 8 / cfg.wg), dev.limits.maxComputeWorkgroupsPerDimension), uniforms: { N: s.N, K: s.K } };
  },
  problemKey: (s) => `${s.weight}:n${s.N}:k${s.K}`,
  outputs: () => ['out'],
  makeInputs(s, seed): HostTensors {
    const rng = new Rng(seed);
    return { w: randomWeights(rng, s.weight, s.N, s.K), out: { dtype: 'f16', shape: [s.N, s.K], data: new Float32Array(s.N * s.K) } };
  },
  reference(inputs, s): HostTensors {
    const w = weightValues(inputs.w!, s.weight, s.N, s.K);
    return { out: { dtype: 'f16', shape: [s.N, s.K], data: w.map(roundAs('f16')) } };
  },
  // one rounding to f16, either way (WGSL lets f32 -> f16 conversions round up or down)
  tolerance: () => TOLERANCE.f16,
};
