import { roundAs } from '../core/dtype.js';
import type { RopeStyle } from '../core/model-config.js';
import { Rng } from '../core/random.js';
import { kvWriteRef } from '../core/reference/attention.js';
import { ropeCosSin, ropeInvFreq, ropeRef } from '../core/reference/rope.js';
import { grid1d } from '../gpu/grid.js';
import source from '../../shaders/rope-kv-write.wgsl?raw';
import kvF32 from '../../shaders/attention-kv-f32.wgsl?raw';
import kvF16 from '../../shaders/attention-kv-f16.wgsl?raw';
import { KV_LIBS, qkvStride } from './attention-shape.js';
import { bucket, workgroupSizes } from './common.js';
import { kvViews, kvWriteSpec, type KvWriteConfig, type KvWriteShape } from './kv-write.js';
import type { HostTensors, KernelSpec } from './spec.js';
import { TOLERANCE } from './spec.js';
import { composeWgsl } from './wgsl.js';

/**
 * RoPE of q and k and the KV write in one pass (shaders/rope-kv-write.wgsl), over a fused qkv
 * buffer: what the rope kernel then kv-write leave in q, k and the caches, one dependent
 * dispatch fewer per layer.
 */
export interface RopeKvWriteShape extends Omit<KvWriteShape, 'fusedQkv'> {
  style: RopeStyle;
  rotaryDim: number;
  /** rows of the cos/sin table */
  numPositions: number;
}

export const ROPE_KV_WRITE_UNIFORMS = {
  numTokens: 'u32',
  numHeads: 'u32',
  numKvHeads: 'u32',
  tokenStride: 'u32',
  rotaryDim: 'u32',
  numPositions: 'u32',
} as const;

/** One invocation per (token, q/k/v head, 4 dims). */
export function ropeKvWriteGrid(numTokens: number, s: Pick<RopeKvWriteShape, 'numHeads' | 'numKvHeads' | 'headDim'>, wg: number, maxPerDim: number): [number, number, number] {
  return grid1d(Math.ceil((numTokens * qkvStride(s)) / 4 / wg), maxPerDim);
}

/** The uniforms of a step of numTokens tokens. */
export function ropeKvWriteUniforms(numTokens: number, s: Omit<RopeKvWriteShape, 'numTokens'>) {
  return { numTokens, numHeads: s.numHeads, numKvHeads: s.numKvHeads, tokenStride: qkvStride(s) / 4, rotaryDim: s.rotaryDim, numPositions: s.numPositions };
}

/** Whole vec4s of rotation: rotaryDim a multiple of 4 (neox: of 8, both halves whole vec4s). */
function rotaryErrors(s: Pick<RopeKvWriteShape, 'style' | 'rotaryDim' | 'headDim'>): string[] {
  const unit = s.style === 'neox' ? 8 : 4;
  return s.rotaryDim % unit !== 0 || s.rotaryDim > s.headDim ? [`rotaryDim ${s.rotaryDim} must be a multiple of ${unit} and <= headDim ${s.headDim}`] : [];
}

export const ropeKvWriteSpec: KernelSpec<RopeKvWriteShape, KvWriteConfig> = {
  id: 'rope-kv-write',
  sources: [source, kvF32, kvF16],
  uniforms: ROPE_KV_WRITE_UNIFORMS,
  bindings: () => [
    { name: 'qkv', binding: 0, kind: 'storage' },
    { name: 'positions', binding: 1, kind: 'storage-read' },
    { name: 'cosSin', binding: 2, kind: 'storage-read' },
    { name: 'slotMapping', binding: 3, kind: 'storage-read' },
    { name: 'kCache', binding: 4, kind: 'storage' },
    { name: 'vCache', binding: 5, kind: 'storage' },
    { name: 'params', binding: 6, kind: 'uniform' },
  ],
  supports: (s, dev) => [...kvWriteSpec.supports({ ...s, fusedQkv: true }, dev), ...rotaryErrors(s)],
  space: (_s, dev) => workgroupSizes(dev, 32, 256).map((wg) => ({ wg })),
  defaultConfig: () => ({ wg: 64 }),
  build: (s, cfg) => ({
    source: composeWgsl(source, { act: s.act, uniforms: ROPE_KV_WRITE_UNIFORMS, libs: [KV_LIBS[s.kv]] }),
    entryPoint: 'main',
    constants: { WG: cfg.wg, D: s.headDim, BLOCK_SIZE: s.blockSize, NEOX: s.style === 'neox' ? 1 : 0 },
  }),
  dispatch: (s, cfg, dev) => ({
    grid: ropeKvWriteGrid(s.numTokens, s, cfg.wg, dev.limits.maxComputeWorkgroupsPerDimension),
    uniforms: ropeKvWriteUniforms(s.numTokens, s),
  }),
  problemKey: (s) => `${s.act}/kv${s.kv}:${s.style}:h${s.numHeads}:kvh${s.numKvHeads}:d${s.headDim}:r${s.rotaryDim}:tok${bucket(s.numTokens)}`,
  outputs: () => ['qkv', 'kCache', 'vCache'],
  makeInputs(s, seed): HostTensors {
    const kv = kvWriteSpec.makeInputs({ ...s, fusedQkv: true }, seed); // k = v = the fused qkv rows
    const rng = new Rng(seed + 1);
    const positions = new Uint32Array(s.numTokens);
    for (let t = 0; t < s.numTokens; t++) positions[t] = rng.int(0, s.numPositions - 1);
    const invFreq = ropeInvFreq(s.rotaryDim, 10000, { type: 'none' });
    return {
      qkv: kv.k!,
      positions: { dtype: 'u32', shape: [s.numTokens], data: positions },
      cosSin: { dtype: 'f32', shape: [s.numPositions, s.rotaryDim / 2, 2], data: ropeCosSin(invFreq, s.numPositions) },
      slotMapping: kv.slotMapping!,
      kCache: kv.kCache!,
      vCache: kv.vCache!,
    };
  },
  // rope over the q and k heads, then the kv write of the rotated rows: the two kernels' references
  reference(inputs, s): HostTensors {
    const tokenStride = qkvStride(s);
    const layout = { numTokens: s.numTokens, numHeads: s.numHeads + s.numKvHeads, headDim: s.headDim, rotaryDim: s.rotaryDim, tokenStride, style: s.style };
    const qkv = ropeRef(inputs.qkv!.data as Float32Array, inputs.positions!.data as Uint32Array, inputs.cosSin!.data as Float32Array, layout, roundAs(s.act));
    const { k, v } = kvViews({ ...s, fusedQkv: true });
    const caches = kvWriteRef(qkv, k, qkv, v, inputs.slotMapping!.data as Int32Array, inputs.kCache!.data as Float32Array, inputs.vCache!.data as Float32Array, s, roundAs(s.kv));
    const dims = [s.numBlocks, s.numKvHeads, s.blockSize, s.headDim];
    return {
      qkv: { dtype: s.act, shape: [s.numTokens, tokenStride], data: qkv },
      kCache: { dtype: s.kv, shape: dims, data: caches.kCache },
      vCache: { dtype: s.kv, shape: dims, data: caches.vCache },
    };
  },
  // the rotation's f32 rounding (as the rope kernel), then the cache's (as kv-write)
  tolerance: (s) => (s.act === 'f32' && s.kv === 'f32' ? TOLERANCE.f32 : TOLERANCE.f16),
};
