import type { ActDType } from '../core/dtype.js';
import { roundAs } from '../core/dtype.js';
import { Rng } from '../core/random.js';
import { addRmsnormRef, rmsnormHeadsRef, rmsnormRef } from '../core/reference/rmsnorm.js';
import { grid1d } from '../gpu/grid.js';
import type { DeviceInfo } from '../gpu/device-info.js';
import source from '../../shaders/rmsnorm.wgsl?raw';
import quantXSource from '../../shaders/rmsnorm-quant-x.wgsl?raw';
import { actSupport, bucket, randomAct, workgroupSizes, zerosAct } from './common.js';
import { packedX, packedXErrors, QUANT_X_LIB_SOURCES, quantXLibs, quantXSupport, type Int8Format } from './int8-x.js';
import type { BindingDecl, HostTensors, KernelSpec } from './spec.js';
import { TOLERANCE } from './spec.js';
import { composeWgsl } from './wgsl.js';

/**
 * 'plain': out = norm(x); 'residual': residual += x, out = norm(residual) (fused add);
 * 'heads': in place on `residual`, rows are `headsPerToken` heads of `rowLen` inside token rows
 * of `tokenStride` elements (per-head q/k norm on a fused qkv buffer).
 */
export type RmsnormMode = 'plain' | 'residual' | 'heads';

export interface RmsnormShape {
  act: ActDType;
  mode: RmsnormMode;
  numRows: number;
  rowLen: number;
  eps: number;
  /** 'heads' mode only */
  headsPerToken?: number;
  tokenStride?: number;
  /** 'heads' mode: element offset of the first head (e.g. the k heads of a fused qkv buffer) */
  headOffset?: number;
}

export interface RmsnormConfig {
  wg: number;
  reduce: 'plain' | 'subgroup';
}

const UNIFORMS = { numRows: 'u32', rowLen: 'u32', eps: 'f32', headsPerToken: 'u32', tokenStride: 'u32', headOffset: 'u32' } as const;
const ENTRY: Record<RmsnormMode, string> = { plain: 'main', residual: 'main_residual', heads: 'main_heads' };

export const rmsnormSpec: KernelSpec<RmsnormShape, RmsnormConfig> = {
  id: 'rmsnorm',
  sources: [source],
  uniforms: UNIFORMS,

  bindings(shape): BindingDecl[] {
    const weight = { name: 'weight', binding: 1, kind: 'storage-read' } as const;
    const params = { name: 'params', binding: 4, kind: 'uniform' } as const;
    const residual = { name: 'residual', binding: 3, kind: 'storage' } as const;
    if (shape.mode === 'heads') return [weight, residual, params];
    return [
      { name: 'x', binding: 0, kind: 'storage-read' },
      weight,
      { name: 'out', binding: 2, kind: 'storage' },
      ...(shape.mode === 'residual' ? [residual] : []),
      params,
    ];
  },

  supports(shape, dev) {
    const reasons = actSupport(shape.act, dev);
    if (shape.mode === 'heads' && (!shape.headsPerToken || (shape.tokenStride ?? 0) < shape.headsPerToken * shape.rowLen)) {
      reasons.push('heads mode needs headsPerToken >= 1 and tokenStride >= headsPerToken * rowLen');
    }
    return reasons;
  },

  space(_shape, dev) {
    const reduces: RmsnormConfig['reduce'][] = dev.features.subgroups ? ['plain', 'subgroup'] : ['plain'];
    return workgroupSizes(dev, 32, 1024).flatMap((wg) => reduces.map((reduce) => ({ wg, reduce })));
  },

  defaultConfig(shape, dev) {
    // Enough invocations for 4 elements each (up to 1024): a decode step normalizes one row per
    // sequence, one workgroup each, so the row's loads must be spread wide, not looped over;
    // subgroup sums where available (fewer barriers than the workgroup-memory tree). H200, a
    // 4096-wide row: 256 invocations with the tree took ~14 us per launch inside a step.
    const wg = Math.min(1024, bucket(Math.ceil(shape.rowLen / 4)), dev.limits.maxComputeInvocationsPerWorkgroup, dev.limits.maxComputeWorkgroupSizeX);
    return { wg: Math.max(32, wg), reduce: dev.features.subgroups ? 'subgroup' : 'plain' };
  },

  build(shape, cfg) {
    return {
      source: composeWgsl(source, { act: shape.act, uniforms: UNIFORMS, reduce: cfg.reduce }),
      entryPoint: ENTRY[shape.mode],
      constants: { WG: cfg.wg },
    };
  },

  dispatch(shape, _cfg, dev: DeviceInfo) {
    return {
      grid: grid1d(shape.numRows, dev.limits.maxComputeWorkgroupsPerDimension),
      uniforms: {
        numRows: shape.numRows,
        rowLen: shape.rowLen,
        eps: shape.eps,
        headsPerToken: shape.headsPerToken ?? 1,
        tokenStride: shape.tokenStride ?? shape.rowLen,
        headOffset: shape.headOffset ?? 0,
      },
    };
  },

  problemKey(s) {
    return `${s.act}:${s.mode}:rows${bucket(s.numRows)}:len${s.rowLen}`;
  },

  outputs(shape) {
    return shape.mode === 'plain' ? ['out'] : shape.mode === 'residual' ? ['out', 'residual'] : ['residual'];
  },

  makeInputs(shape, seed): HostTensors {
    const rng = new Rng(seed);
    const dims = [shape.numRows, shape.rowLen];
    const weight = new Float32Array(shape.rowLen);
    for (let i = 0; i < shape.rowLen; i++) weight[i] = rng.uniform(0.5, 1.5);
    if (shape.mode === 'heads') {
      const numTokens = Math.ceil(shape.numRows / shape.headsPerToken!);
      const len = (shape.headOffset ?? 0) + numTokens * shape.tokenStride!;
      return {
        weight: { dtype: 'f32', shape: [shape.rowLen], data: weight },
        residual: randomAct(rng, shape.act, [len]),
      };
    }
    return {
      x: randomAct(rng, shape.act, dims),
      weight: { dtype: 'f32', shape: [shape.rowLen], data: weight },
      out: zerosAct(shape.act, dims),
      ...(shape.mode === 'residual' ? { residual: randomAct(rng, shape.act, dims) } : {}),
    };
  },

  reference(inputs, shape): HostTensors {
    const w = inputs.weight!.data as Float32Array;
    const round = roundAs(shape.act);
    if (shape.mode === 'heads') {
      const data = rmsnormHeadsRef(inputs.residual!.data as Float32Array, w, shape.numRows, shape.rowLen, shape.headsPerToken!, shape.tokenStride!, shape.eps, round, shape.headOffset ?? 0);
      return { residual: { ...inputs.residual!, data } };
    }
    const x = inputs.x!.data as Float32Array;
    const dims = [shape.numRows, shape.rowLen];
    if (shape.mode === 'plain') {
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

/**
 * rmsnorm ('plain' or 'residual') whose output also comes quantized for the int8-dot GEMV that
 * reads it next (shaders/rmsnorm-quant-x.wgsl): xq / xs as matmul.quantize-x would write them
 * from `out` for a GEMV over `format` weights, so the model skips that pass.
 */
export interface RmsnormQuantXShape extends Pick<RmsnormShape, 'act' | 'numRows' | 'rowLen' | 'eps'> {
  mode: 'plain' | 'residual';
  /** the weight format of the GEMV that reads out: the grouping of xq */
  format: Int8Format;
}

const QUANT_ENTRY = { plain: 'main_quant_x', residual: 'main_residual_quant_x' } as const;

export const rmsnormQuantXSpec: KernelSpec<RmsnormQuantXShape, RmsnormConfig> = {
  id: 'rmsnorm.quant-x',
  sources: [source, quantXSource, ...QUANT_X_LIB_SOURCES],
  uniforms: UNIFORMS,
  bindings: (shape) => [
    ...rmsnormSpec.bindings(shape),
    { name: 'xq', binding: 5, kind: 'storage' }, // [numRows, rowLen/64, 16] u32
    { name: 'xs', binding: 6, kind: 'storage' }, // [numRows, rowLen/64, 4] u32
  ],
  supports: (shape, dev) => [...rmsnormSpec.supports(shape, dev), ...quantXSupport(shape.format, shape.rowLen, dev)],
  // the same tunables as rmsnorm: the quantization takes one pair per invocation, WG at a time
  space: (shape, dev) => rmsnormSpec.space(shape, dev),
  defaultConfig: (shape, dev) => rmsnormSpec.defaultConfig(shape, dev),
  build(shape, cfg) {
    return {
      source: composeWgsl(source, { act: shape.act, uniforms: UNIFORMS, reduce: cfg.reduce, libs: [...quantXLibs(shape.format), quantXSource] }),
      entryPoint: QUANT_ENTRY[shape.mode],
      constants: { WG: cfg.wg },
    };
  },
  dispatch: (shape, cfg, dev) => rmsnormSpec.dispatch(shape, cfg, dev),
  problemKey: (s) => `${rmsnormSpec.problemKey(s)}:${s.format}`,
  outputs: (shape) => [...rmsnormSpec.outputs(shape), 'xq', 'xs'],
  makeInputs: (shape, seed) => ({ ...rmsnormSpec.makeInputs(shape, seed), ...packedX(shape.numRows, shape.rowLen, shape.format) }),
  // out (and residual) against the CPU's rmsnorm; xq / xs through checkDerived
  reference: (inputs, shape) => rmsnormSpec.reference(inputs, shape),
  tolerance: (shape) => rmsnormSpec.tolerance(shape),
  checkDerived: (got, shape) =>
    packedXErrors(got.out!.data as Float32Array, shape.numRows, shape.rowLen, shape.format, got.xq!.data as Uint32Array, got.xs!.data as Uint32Array),
};
