import type { ActDType } from '../core/dtype.js';
import { roundAs } from '../core/dtype.js';
import { Rng } from '../core/random.js';
import { swigluRef } from '../core/reference/elementwise.js';
import { grid1d } from '../gpu/grid.js';
import source from '../../shaders/swiglu.wgsl?raw';
import quantXSource from '../../shaders/swiglu-quant-x.wgsl?raw';
import vec4Source from '../../shaders/swiglu-vec4.wgsl?raw';
import { actSupport, bucket, randomAct, workgroupSizes, zerosAct } from './common.js';
import { packedX, packedXErrors, QUANT_X_LIB_SOURCES, quantXLibs, quantXSupport, type Int8Format } from './int8-x.js';
import type { HostTensors, KernelSpec } from './spec.js';
import { TOLERANCE } from './spec.js';
import { composeWgsl } from './wgsl.js';

export interface SwigluShape {
  act: ActDType;
  numTokens: number;
  intermediateSize: number;
  /** gate and up in one [numTokens, 2 * intermediateSize] buffer (bound as both), else two buffers */
  fused: boolean;
}

export interface SwigluConfig {
  wg: number;
}

/** Whether the shape takes swiglu-vec4.wgsl (four outputs per invocation). */
const byQuads = (s: SwigluShape) => s.intermediateSize % 4 === 0;

const UNIFORMS = { numTokens: 'u32', intermediateSize: 'u32', gateOffset: 'u32', upOffset: 'u32', rowStride: 'u32' } as const;

export const swigluSpec: KernelSpec<SwigluShape, SwigluConfig> = {
  id: 'swiglu',
  sources: [source, vec4Source],
  uniforms: UNIFORMS,
  bindings() {
    return [
      { name: 'gate', binding: 0, kind: 'storage-read' },
      { name: 'up', binding: 1, kind: 'storage-read' },
      { name: 'out', binding: 2, kind: 'storage' },
      { name: 'params', binding: 3, kind: 'uniform' },
    ];
  },
  supports: (shape, dev) => actSupport(shape.act, dev),
  space: (_shape, dev) => workgroupSizes(dev, 32, 1024).map((wg) => ({ wg })),
  defaultConfig: () => ({ wg: 256 }),
  build(shape, cfg) {
    return { source: composeWgsl(byQuads(shape) ? vec4Source : source, { act: shape.act, uniforms: UNIFORMS }), entryPoint: 'main', constants: { WG: cfg.wg } };
  },
  dispatch(shape, cfg, dev) {
    const n = (shape.numTokens * shape.intermediateSize) / (byQuads(shape) ? 4 : 1);
    const I = shape.intermediateSize;
    return {
      grid: grid1d(Math.ceil(n / cfg.wg), dev.limits.maxComputeWorkgroupsPerDimension),
      uniforms: shape.fused
        ? { numTokens: shape.numTokens, intermediateSize: I, gateOffset: 0, upOffset: I, rowStride: 2 * I }
        : { numTokens: shape.numTokens, intermediateSize: I, gateOffset: 0, upOffset: 0, rowStride: I },
    };
  },
  problemKey: (s) => `${s.act}:tok${bucket(s.numTokens)}:i${s.intermediateSize}${s.fused ? ':fused' : ''}`,
  outputs: () => ['out'],
  makeInputs(shape, seed): HostTensors {
    const rng = new Rng(seed);
    const [T, I] = [shape.numTokens, shape.intermediateSize];
    const out = zerosAct(shape.act, [T, I]);
    if (shape.fused) {
      // One buffer bound as both gate and up: the harness uploads each binding, so give both the same data.
      const gateUp = randomAct(rng, shape.act, [T, 2 * I], 2);
      return { gate: gateUp, up: gateUp, out };
    }
    return { gate: randomAct(rng, shape.act, [T, I], 2), up: randomAct(rng, shape.act, [T, I], 2), out };
  },
  reference(inputs, shape): HostTensors {
    const [T, I] = [shape.numTokens, shape.intermediateSize];
    let gateUp = inputs.gate!.data as Float32Array;
    if (!shape.fused) {
      gateUp = new Float32Array(T * 2 * I);
      for (let t = 0; t < T; t++) {
        gateUp.set((inputs.gate!.data as Float32Array).subarray(t * I, (t + 1) * I), t * 2 * I);
        gateUp.set((inputs.up!.data as Float32Array).subarray(t * I, (t + 1) * I), t * 2 * I + I);
      }
    }
    const data = swigluRef(gateUp, T, I, roundAs(shape.act));
    return { out: { dtype: shape.act, shape: [shape.numTokens, shape.intermediateSize], data } };
  },
  // exp() is not correctly rounded on GPUs: allow a few f32 ulps more than for pure arithmetic.
  tolerance: (shape) => (shape.act === 'f32' ? { atol: 1e-5, rtol: 1e-4 } : TOLERANCE.f16),
};

/**
 * SwiGLU whose output also comes quantized for the int8-dot GEMV that reads it next (down_proj;
 * shaders/swiglu-quant-x.wgsl): xq / xs as matmul.quantize-x would write them from `out` for a
 * GEMV over `format` weights, so the model skips that pass. 16 invocations per pair of blocks
 * (64 outputs) of a row, 4 outputs each; one of them quantizes the pair from workgroup memory.
 */
export interface SwigluQuantXShape extends SwigluShape {
  /** the weight format of the GEMV that reads out: the grouping of xq */
  format: Int8Format;
}

export const swigluQuantXSpec: KernelSpec<SwigluQuantXShape, SwigluConfig> = {
  id: 'swiglu.quant-x',
  sources: [source, quantXSource, ...QUANT_X_LIB_SOURCES],
  uniforms: UNIFORMS,
  bindings: (shape) => [
    ...swigluSpec.bindings(shape),
    { name: 'xq', binding: 4, kind: 'storage' }, // [numTokens, intermediateSize/64, 16] u32
    { name: 'xs', binding: 5, kind: 'storage' }, // [numTokens, intermediateSize/64, 4] u32
  ],
  supports: (shape, dev) => [...actSupport(shape.act, dev), ...quantXSupport(shape.format, shape.intermediateSize, dev)],
  // 16 invocations per pair: a multiple of 16
  space: (_shape, dev) => workgroupSizes(dev, 32, 256).map((wg) => ({ wg })),
  // 4 outputs per invocation, as swiglu's 1: a decode row of 14336 is 56 workgroups of 64
  defaultConfig: () => ({ wg: 64 }),
  build(shape, cfg) {
    return {
      source: composeWgsl(source, { act: shape.act, uniforms: UNIFORMS, libs: [...quantXLibs(shape.format), quantXSource] }),
      entryPoint: 'main_quant_x',
      constants: { WG: cfg.wg },
    };
  },
  dispatch(shape, cfg, dev) {
    const pairs = (shape.numTokens * shape.intermediateSize) / 64;
    const plain = swigluSpec.dispatch(shape, cfg, dev);
    return { ...plain, grid: grid1d(Math.ceil(pairs / (cfg.wg / 16)), dev.limits.maxComputeWorkgroupsPerDimension) };
  },
  problemKey: (s) => `${swigluSpec.problemKey(s)}:${s.format}`,
  outputs: () => ['out', 'xq', 'xs'],
  makeInputs: (shape, seed) => ({ ...swigluSpec.makeInputs(shape, seed), ...packedX(shape.numTokens, shape.intermediateSize, shape.format) }),
  // out against the CPU's swiglu; xq / xs through checkDerived
  reference: (inputs, shape) => swigluSpec.reference(inputs, shape),
  tolerance: (shape) => swigluSpec.tolerance(shape),
  checkDerived: (got, shape) =>
    packedXErrors(got.out!.data as Float32Array, shape.numTokens, shape.intermediateSize, shape.format, got.xq!.data as Uint32Array, got.xs!.data as Uint32Array),
};
