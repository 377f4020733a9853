import type { ActDType } from '../core/dtype.js';
import { roundAs } from '../core/dtype.js';
import type { RopeStyle } from '../core/model-config.js';
import { Rng } from '../core/random.js';
import { ropeCosSin, ropeInvFreq, ropeRef } from '../core/reference/rope.js';
import { grid1d } from '../gpu/grid.js';
import source from '../../shaders/rope.wgsl?raw';
import { actSupport, bucket, randomAct, workgroupSizes } from './common.js';
import type { HostTensors, KernelSpec } from './spec.js';
import { TOLERANCE } from './spec.js';
import { composeWgsl } from './wgsl.js';

export interface RopeShape {
  act: ActDType;
  style: RopeStyle;
  numTokens: number;
  /** heads rotated per token (q heads + k heads when rotating a fused qkv buffer) */
  numHeads: number;
  headDim: number;
  rotaryDim: number;
  /** elements per token row of the buffer */
  tokenStride: number;
  /** rows of the cos/sin table */
  numPositions: number;
}

export interface RopeConfig {
  wg: number;
}

const UNIFORMS = {
  numTokens: 'u32',
  numHeads: 'u32',
  headDim: 'u32',
  rotaryDim: 'u32',
  tokenStride: 'u32',
  numPositions: 'u32',
} as const;

export const ropeSpec: KernelSpec<RopeShape, RopeConfig> = {
  id: 'rope',
  sources: [source],
  uniforms: UNIFORMS,

  bindings() {
    return [
      { name: 'x', binding: 0, kind: 'storage' },
      { name: 'positions', binding: 1, kind: 'storage-read' },
      { name: 'cosSin', binding: 2, kind: 'storage-read' },
      { name: 'params', binding: 3, kind: 'uniform' },
    ];
  },

  supports(shape, dev) {
    const reasons = actSupport(shape.act, dev);
    if (shape.rotaryDim % 2 !== 0 || shape.rotaryDim > shape.headDim) {
      reasons.push(`rotaryDim ${shape.rotaryDim} must be even and <= headDim ${shape.headDim}`);
    }
    if (shape.numHeads * shape.headDim > shape.tokenStride) reasons.push('heads do not fit in tokenStride');
    return reasons;
  },

  space(_shape, dev) {
    return workgroupSizes(dev, 32, 512).map((wg) => ({ wg }));
  },

  defaultConfig() {
    return { wg: 64 };
  },

  build(shape, cfg) {
    return {
      source: composeWgsl(source, { act: shape.act, uniforms: UNIFORMS }),
      entryPoint: 'main',
      constants: { WG: cfg.wg, NEOX: shape.style === 'neox' ? 1 : 0 },
    };
  },

  dispatch(shape, cfg, dev) {
    const n = shape.numTokens * shape.numHeads * (shape.rotaryDim / 2);
    const { act: _a, style: _s, ...dims } = shape;
    return { grid: grid1d(Math.ceil(n / cfg.wg), dev.limits.maxComputeWorkgroupsPerDimension), uniforms: dims };
  },

  problemKey(s) {
    return `${s.act}:${s.style}:tok${bucket(s.numTokens)}:h${s.numHeads}:d${s.headDim}:r${s.rotaryDim}`;
  },

  outputs() {
    return ['x'];
  },

  makeInputs(shape, seed): HostTensors {
    const rng = new Rng(seed);
    const positions = new Uint32Array(shape.numTokens);
    for (let t = 0; t < shape.numTokens; t++) positions[t] = rng.int(0, shape.numPositions - 1);
    const invFreq = ropeInvFreq(shape.rotaryDim, 10000, { type: 'none' });
    return {
      x: randomAct(rng, shape.act, [shape.numTokens, shape.tokenStride]),
      positions: { dtype: 'u32', shape: [shape.numTokens], data: positions },
      cosSin: { dtype: 'f32', shape: [shape.numPositions, shape.rotaryDim / 2, 2], data: ropeCosSin(invFreq, shape.numPositions) },
    };
  },

  reference(inputs, shape): HostTensors {
    const data = ropeRef(
      inputs.x!.data as Float32Array,
      inputs.positions!.data as Uint32Array,
      inputs.cosSin!.data as Float32Array,
      shape,
      roundAs(shape.act),
    );
    return { x: { dtype: shape.act, shape: [shape.numTokens, shape.tokenStride], data } };
  },

  tolerance(shape) {
    return shape.act === 'f32' ? { atol: 1e-5, rtol: 1e-5 } : TOLERANCE.f16;
  },
};
