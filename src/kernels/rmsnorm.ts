import type { ActDType } from '../core/dtype.js';
import { roundAs } from '../core/dtype.js';
import { Rng } from '../core/random.js';
import { addRmsnormRef, rmsnormRef } from '../core/reference/rmsnorm.js';
import { grid1d } from '../gpu/grid.js';
import type { DeviceInfo } from '../gpu/device-info.js';
import source from '../../shaders/rmsnorm.wgsl?raw';
import { actSupport, bucket, randomAct, workgroupSizes, zerosAct } from './common.js';
import type { BindingDecl, HostTensors, KernelSpec } from './spec.js';
import { TOLERANCE } from './spec.js';
import { composeWgsl } from './wgsl.js';

export interface RmsnormShape {
  act: ActDType;
  numRows: number;
  rowLen: number;
  eps: number;
  /** fused `residual += x` before the norm */
  residual: boolean;
}

export interface RmsnormConfig {
  wg: number;
  reduce: 'plain' | 'subgroup';
}

const UNIFORMS = { numRows: 'u32', rowLen: 'u32', eps: 'f32' } as const;

export const rmsnormSpec: KernelSpec<RmsnormShape, RmsnormConfig> = {
  id: 'rmsnorm',
  sources: [source],
  uniforms: UNIFORMS,

  bindings(shape): BindingDecl[] {
    return [
      { name: 'x', binding: 0, kind: 'storage-read' },
      { name: 'weight', binding: 1, kind: 'storage-read' },
      { name: 'out', binding: 2, kind: 'storage' },
      ...(shape.residual ? [{ name: 'residual', binding: 3, kind: 'storage' } as const] : []),
      { name: 'params', binding: 4, kind: 'uniform' },
    ];
  },

  supports(shape, dev) {
    return actSupport(shape.act, dev);
  },

  space(_shape, dev) {
    const reduces: RmsnormConfig['reduce'][] = dev.features.subgroups ? ['plain', 'subgroup'] : ['plain'];
    return workgroupSizes(dev, 32, 1024).flatMap((wg) => reduces.map((reduce) => ({ wg, reduce })));
  },

  defaultConfig(shape, dev) {
    // One pass over a row: enough invocations to cover typical hidden sizes 4 elements each.
    const wg = Math.min(256, bucket(Math.ceil(shape.rowLen / 4)), dev.limits.maxComputeInvocationsPerWorkgroup);
    return { wg: Math.max(32, wg), reduce: 'plain' };
  },

  build(shape, cfg) {
    return {
      source: composeWgsl(source, { act: shape.act, uniforms: UNIFORMS, reduce: cfg.reduce }),
      entryPoint: shape.residual ? 'main_residual' : 'main',
      constants: { WG: cfg.wg },
    };
  },

  dispatch(shape, _cfg, dev: DeviceInfo) {
    return {
      grid: grid1d(shape.numRows, dev.limits.maxComputeWorkgroupsPerDimension),
      uniforms: { numRows: shape.numRows, rowLen: shape.rowLen, eps: shape.eps },
    };
  },

  problemKey(s) {
    return `${s.act}${s.residual ? '+res' : ''}:rows${bucket(s.numRows)}:len${s.rowLen}`;
  },

  outputs(shape) {
    return shape.residual ? ['out', 'residual'] : ['out'];
  },

  makeInputs(shape, seed): HostTensors {
    const rng = new Rng(seed);
    const dims = [shape.numRows, shape.rowLen];
    const weight = new Float32Array(shape.rowLen);
    for (let i = 0; i < shape.rowLen; i++) weight[i] = rng.uniform(0.5, 1.5);
    return {
      x: randomAct(rng, shape.act, dims),
      weight: { dtype: 'f32', shape: [shape.rowLen], data: weight },
      out: zerosAct(shape.act, dims),
      ...(shape.residual ? { residual: randomAct(rng, shape.act, dims) } : {}),
    };
  },

  reference(inputs, shape): HostTensors {
    const x = inputs.x!.data as Float32Array;
    const w = inputs.weight!.data as Float32Array;
    const round = roundAs(shape.act);
    const dims = [shape.numRows, shape.rowLen];
    if (!shape.residual) {
      return { out: { dtype: shape.act, shape: dims, data: rmsnormRef(x, w, shape.numRows, shape.rowLen, shape.eps, round) } };
    }
    const r = addRmsnormRef(x, inputs.residual!.data as Float32Array, w, shape.numRows, shape.rowLen, shape.eps, round);
    return {
      out: { dtype: shape.act, shape: dims, data: r.out },
      residual: { dtype: shape.act, shape: dims, data: r.residual },
    };
  },

  tolerance(shape) {
    return shape.act === 'f32' ? { atol: 1e-5, rtol: 1e-4 } : TOLERANCE.f16;
  },
};
