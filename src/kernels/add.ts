import type { ActDType } from '../core/dtype.js';
import { roundAs } from '../core/dtype.js';
import { Rng } from '../core/random.js';
import { addRef } from '../core/reference/elementwise.js';
import { grid1d } from '../gpu/grid.js';
import source from '../../shaders/add.wgsl?raw';
import { actSupport, bucket, randomAct, workgroupSizes, zerosAct } from './common.js';
import type { HostTensors, KernelSpec } from './spec.js';
import { TOLERANCE } from './spec.js';
import { composeWgsl } from './wgsl.js';

export interface AddShape {
  act: ActDType;
  n: number;
}

export interface AddConfig {
  wg: number;
}

const UNIFORMS = { n: 'u32' } as const;

export const addSpec: KernelSpec<AddShape, AddConfig> = {
  id: 'add',
  sources: [source],
  uniforms: UNIFORMS,
  bindings() {
    return [
      { name: 'a', binding: 0, kind: 'storage-read' },
      { name: 'b', binding: 1, kind: 'storage-read' },
      { name: 'out', binding: 2, kind: 'storage' },
      { name: 'params', binding: 3, kind: 'uniform' },
    ];
  },
  supports: (shape, dev) => actSupport(shape.act, dev),
  space: (_shape, dev) => workgroupSizes(dev, 32, 1024).map((wg) => ({ wg })),
  defaultConfig: () => ({ wg: 256 }),
  build(shape, cfg) {
    return { source: composeWgsl(source, { act: shape.act, uniforms: UNIFORMS }), entryPoint: 'main', constants: { WG: cfg.wg } };
  },
  dispatch(shape, cfg, dev) {
    return { grid: grid1d(Math.ceil(shape.n / cfg.wg), dev.limits.maxComputeWorkgroupsPerDimension), uniforms: { n: shape.n } };
  },
  problemKey: (s) => `${s.act}:n${bucket(s.n)}`,
  outputs: () => ['out'],
  makeInputs(shape, seed): HostTensors {
    const rng = new Rng(seed);
    return {
      a: randomAct(rng, shape.act, [shape.n]),
      b: randomAct(rng, shape.act, [shape.n]),
      out: zerosAct(shape.act, [shape.n]),
    };
  },
  reference(inputs, shape): HostTensors {
    const data = addRef(inputs.a!.data as Float32Array, inputs.b!.data as Float32Array, roundAs(shape.act));
    return { out: { dtype: shape.act, shape: [shape.n], data } };
  },
  tolerance: (shape) => (shape.act === 'f32' ? { atol: 0, rtol: 1e-7 } : TOLERANCE.f16),
};
