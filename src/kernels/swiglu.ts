import type { ActDType } from '../core/dtype.js';
import { roundAs } from '../core/dtype.js';
import { Rng } from '../core/random.js';
import { swigluRef } from '../core/reference/elementwise.js';
import { grid1d } from '../gpu/grid.js';
import source from '../../shaders/swiglu.wgsl?raw';
import { actSupport, bucket, randomAct, workgroupSizes, zerosAct } from './common.js';
import type { HostTensors, KernelSpec } from './spec.js';
import { TOLERANCE } from './spec.js';
import { composeWgsl } from './wgsl.js';

export interface SwigluShape {
  act: ActDType;
  numTokens: number;
  intermediateSize: number;
}

export interface SwigluConfig {
  wg: number;
}

const UNIFORMS = { numTokens: 'u32', intermediateSize: 'u32' } as const;

export const swigluSpec: KernelSpec<SwigluShape, SwigluConfig> = {
  id: 'swiglu',
  sources: [source],
  uniforms: UNIFORMS,
  bindings() {
    return [
      { name: 'gateUp', binding: 0, kind: 'storage-read' },
      { name: 'out', binding: 1, kind: 'storage' },
      { name: 'params', binding: 2, kind: 'uniform' },
    ];
  },
  supports: (shape, dev) => actSupport(shape.act, dev),
  space: (_shape, dev) => workgroupSizes(dev, 32, 1024).map((wg) => ({ wg })),
  defaultConfig: () => ({ wg: 256 }),
  build(shape, cfg) {
    return { source: composeWgsl(source, { act: shape.act, uniforms: UNIFORMS }), entryPoint: 'main', constants: { WG: cfg.wg } };
  },
  dispatch(shape, cfg, dev) {
    const n = shape.numTokens * shape.intermediateSize;
    return {
      grid: grid1d(Math.ceil(n / cfg.wg), dev.limits.maxComputeWorkgroupsPerDimension),
      uniforms: { numTokens: shape.numTokens, intermediateSize: shape.intermediateSize },
    };
  },
  problemKey: (s) => `${s.act}:tok${bucket(s.numTokens)}:i${s.intermediateSize}`,
  outputs: () => ['out'],
  makeInputs(shape, seed): HostTensors {
    const rng = new Rng(seed);
    return {
      gateUp: randomAct(rng, shape.act, [shape.numTokens, 2 * shape.intermediateSize], 2),
      out: zerosAct(shape.act, [shape.numTokens, shape.intermediateSize]),
    };
  },
  reference(inputs, shape): HostTensors {
    const data = swigluRef(inputs.gateUp!.data as Float32Array, shape.numTokens, shape.intermediateSize, roundAs(shape.act));
    return { out: { dtype: shape.act, shape: [shape.numTokens, shape.intermediateSize], data } };
  },
  // exp() is not correctly rounded on GPUs: allow a few f32 ulps more than for pure arithmetic.
  tolerance: (shape) => (shape.act === 'f32' ? { atol: 1e-5, rtol: 1e-4 } : TOLERANCE.f16),
};
