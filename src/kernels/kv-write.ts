import type { ActDType } from '../core/dtype.js';
import { roundAs } from '../core/dtype.js';
import { Rng } from '../core/random.js';
import { kvWriteRef, type RowView } from '../core/reference/attention.js';
import { grid1d } from '../gpu/grid.js';
import source from '../../shaders/kv-write.wgsl?raw';
import kvF32 from '../../shaders/attention-kv-f32.wgsl?raw';
import kvF16 from '../../shaders/attention-kv-f16.wgsl?raw';
import { KV_LIBS, qkvStride, type KvDType } from './attention-shape.js';
import { actSupport, bucket, randomAct, workgroupSizes } from './common.js';
import type { HostTensors, KernelSpec } from './spec.js';
import { composeWgsl } from './wgsl.js';

/** KV write (shaders/kv-write.wgsl): this step's k/v rows -> paged cache slots. */
export interface KvWriteShape {
  act: ActDType;
  kv: KvDType;
  numTokens: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  blockSize: number;
  numBlocks: number;
  /** k and v are views into one fused qkv buffer (else two packed [numTokens, numKvHeads, headDim] buffers) */
  fusedQkv: boolean;
  /** fraction of tokens with slot -1 (padding), for tests */
  padFraction?: number;
}

export interface KvWriteConfig {
  wg: number;
}

export const KV_WRITE_UNIFORMS = {
  numTokens: 'u32',
  numKvHeads: 'u32',
  kOffset: 'u32',
  kStride: 'u32',
  vOffset: 'u32',
  vStride: 'u32',
} as const;

/** Element offsets and strides of k and v in their buffers. */
export function kvViews(s: Pick<KvWriteShape, 'numHeads' | 'numKvHeads' | 'headDim' | 'fusedQkv'>): { k: RowView; v: RowView } {
  if (!s.fusedQkv) {
    const tokenStride = s.numKvHeads * s.headDim;
    return { k: { offset: 0, tokenStride }, v: { offset: 0, tokenStride } };
  }
  const tokenStride = qkvStride(s);
  return {
    k: { offset: s.numHeads * s.headDim, tokenStride },
    v: { offset: (s.numHeads + s.numKvHeads) * s.headDim, tokenStride },
  };
}

export function kvWriteGrid(numTokens: number, numKvHeads: number, headDim: number, wg: number, maxPerDim: number): [number, number, number] {
  return grid1d(Math.ceil((numTokens * numKvHeads * headDim) / 4 / wg), maxPerDim);
}

export const kvWriteSpec: KernelSpec<KvWriteShape, KvWriteConfig> = {
  id: 'kv-write',
  sources: [source, kvF32, kvF16],
  uniforms: KV_WRITE_UNIFORMS,
  bindings: () => [
    { name: 'k', binding: 0, kind: 'storage-read' },
    { name: 'v', binding: 1, kind: 'storage-read' },
    { name: 'slotMapping', binding: 2, kind: 'storage-read' },
    { name: 'kCache', binding: 3, kind: 'storage' },
    { name: 'vCache', binding: 4, kind: 'storage' },
    { name: 'params', binding: 5, kind: 'uniform' },
  ],
  supports(s, dev) {
    const r = actSupport(s.act, dev);
    if (s.headDim % 4 !== 0) r.push(`headDim ${s.headDim} must be a multiple of 4`);
    if (s.numTokens > (s.numBlocks - 1) * s.blockSize) r.push('more tokens than cache slots outside the null block');
    return r;
  },
  space: (_s, dev) => workgroupSizes(dev, 32, 256).map((wg) => ({ wg })),
  defaultConfig: () => ({ wg: 64 }),
  build: (s, cfg) => ({
    source: composeWgsl(source, { act: s.act, uniforms: KV_WRITE_UNIFORMS, libs: [KV_LIBS[s.kv]] }),
    entryPoint: 'main',
    constants: { WG: cfg.wg, D: s.headDim, BLOCK_SIZE: s.blockSize },
  }),
  dispatch(s, cfg, dev) {
    const { k, v } = kvViews(s);
    return {
      grid: kvWriteGrid(s.numTokens, s.numKvHeads, s.headDim, cfg.wg, dev.limits.maxComputeWorkgroupsPerDimension),
      uniforms: {
        numTokens: s.numTokens,
        numKvHeads: s.numKvHeads,
        kOffset: k.offset / 4,
        kStride: k.tokenStride / 4,
        vOffset: v.offset / 4,
        vStride: v.tokenStride / 4,
      },
    };
  },
  problemKey: (s) => `${s.act}/kv${s.kv}:kvh${s.numKvHeads}:d${s.headDim}:tok${bucket(s.numTokens)}`,
  outputs: () => ['kCache', 'vCache'],
  makeInputs(s, seed): HostTensors {
    const rng = new Rng(seed);
    const { k: kv, v: vv } = kvViews(s);
    const rowDims = [s.numTokens, kv.tokenStride];
    const k = randomAct(rng, s.act, rowDims);
    // Distinct slots from the whole cache but the null block, in random order.
    const slots = rng.shuffle(Array.from({ length: (s.numBlocks - 1) * s.blockSize }, (_, i) => i + s.blockSize));
    const slotMapping = new Int32Array(s.numTokens);
    for (let t = 0; t < s.numTokens; t++) slotMapping[t] = rng.next() < (s.padFraction ?? 0.1) ? -1 : slots[t]!;
    const cacheDims = [s.numBlocks, s.numKvHeads, s.blockSize, s.headDim];
    return {
      k,
      v: s.fusedQkv ? k : randomAct(rng, s.act, [s.numTokens, vv.tokenStride]),
      slotMapping: { dtype: 'i32', shape: [s.numTokens], data: slotMapping },
      kCache: randomAct(rng, s.kv, cacheDims),
      vCache: randomAct(rng, s.kv, cacheDims),
    };
  },
  reference(inputs, s): HostTensors {
    const { k, v } = kvViews(s);
    const r = kvWriteRef(
      inputs.k!.data as Float32Array,
      k,
      inputs.v!.data as Float32Array,
      v,
      inputs.slotMapping!.data as Int32Array,
      inputs.kCache!.data as Float32Array,
      inputs.vCache!.data as Float32Array,
      s,
      roundAs(s.kv),
    );
    const dims = [s.numBlocks, s.numKvHeads, s.blockSize, s.headDim];
    return { kCache: { dtype: s.kv, shape: dims, data: r.kCache }, vCache: { dtype: s.kv, shape: dims, data: r.vCache } };
  },
  // pack2x16float's rounding is implementation-defined (nearest or toward zero): one f16 ulp.
  tolerance: (s) => (s.kv === 'f32' && s.act === 'f32' ? { atol: 0, rtol: 0 } : { atol: 1e-6, rtol: 1e-3 }),
};
