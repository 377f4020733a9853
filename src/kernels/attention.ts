import { roundAs } from '../core/dtype.js';
import { pagedAttentionRef, splitPartialsRef } from '../core/reference/attention.js';
import type { DeviceInfo } from '../gpu/device-info.js';
import source from '../../shaders/attention.wgsl?raw';
import kvF32 from '../../shaders/attention-kv-f32.wgsl?raw';
import kvF16 from '../../shaders/attention-kv-f16.wgsl?raw';
import attentionCommon from '../../shaders/attention-common.wgsl?raw';
import attentionTile from '../../shaders/attention-tile.wgsl?raw';
import {
  ATTN_UNIFORMS,
  KV_LIBS,
  attentionDefaultConfig,
  attentionDimsReasons,
  attentionGrid,
  attentionProblemKey,
  attentionSpace,
  batchFromInputs,
  batchStats,
  geometryOf,
  makeAttentionInputs,
  qView,
  type AttentionDims,
  type PagedAttentionConfig,
  type PagedAttentionShape,
  type PagedAttentionSplitShape,
} from './attention-shape.js';
import type { BindingDecl, HostTensors, KernelProgram, KernelSpec } from './spec.js';
import { composeWgsl } from './wgsl.js';

/**
 * Paged attention (shaders/attention.wgsl) as two kernel specs over one source:
 * - 'attention.paged':       entry `main`, writes out [numTokens, numHeads, headDim] act_t;
 * - 'attention.paged-split': entry `main_split`, writes split-KV partials that
 *                            'attention.reduce' combines (flash decoding for long contexts).
 * The model never calls these directly: src/attention/ (the WGSL attention backend) does.
 */

const COMMON_BINDINGS: BindingDecl[] = [
  { name: 'q', binding: 0, kind: 'storage-read' },
  { name: 'kCache', binding: 1, kind: 'storage-read' },
  { name: 'vCache', binding: 2, kind: 'storage-read' },
  { name: 'blockTables', binding: 3, kind: 'storage-read' },
  { name: 'queryStartLoc', binding: 4, kind: 'storage-read' },
  { name: 'seqLens', binding: 5, kind: 'storage-read' },
];
const PARAMS: BindingDecl = { name: 'params', binding: 9, kind: 'uniform' };
export const ATTN_DIRECT_BINDINGS: BindingDecl[] = [...COMMON_BINDINGS, { name: 'out', binding: 6, kind: 'storage' }, PARAMS];
export const ATTN_SPLIT_BINDINGS: BindingDecl[] = [
  ...COMMON_BINDINGS,
  { name: 'partOut', binding: 7, kind: 'storage' },
  { name: 'partMl', binding: 8, kind: 'storage' },
  PARAMS,
];

/** The program for one static problem and tile config; `split` picks the entry point. */
export function buildAttentionProgram(d: AttentionDims, cfg: PagedAttentionConfig, split: boolean): KernelProgram {
  return {
    source: composeWgsl(source, { act: d.act, uniforms: ATTN_UNIFORMS, libs: [KV_LIBS[d.kv], attentionCommon, attentionTile] }),
    entryPoint: split ? 'main_split' : 'main',
    constants: {
      D: d.headDim,
      G: d.numHeads / d.numKvHeads,
      TQ: cfg.tq,
      TK: cfg.tk,
      WG: cfg.wg,
      BLOCK_SIZE: d.blockSize,
    },
  };
}

function shapeReasons(s: PagedAttentionShape, dev: DeviceInfo): string[] {
  const r = attentionDimsReasons(s, dev);
  if (r.length) return r;
  if (attentionSpace(s, dev).length === 0) r.push(`no tile config fits ${s.numHeads / s.numKvHeads} query heads per kv head, headDim ${s.headDim}`);
  const b = batchStats(s.seqs);
  if (b.numTokens + b.numSeqs > dev.limits.maxComputeWorkgroupsPerDimension) r.push(`${b.numTokens} tokens exceed the grid limit`);
  for (const q of s.seqs) if (q.queryLen > q.seqLen) r.push(`queryLen ${q.queryLen} > seqLen ${q.seqLen}`);
  return r;
}

/** The uniforms of one attention problem (shared with attention-decode.ts: same Params). */
export function attentionUniforms(s: PagedAttentionShape, partition: number): Record<string, number> {
  const b = batchStats(s.seqs);
  return {
    numTokens: b.numTokens,
    numSeqs: b.numSeqs,
    maxBlocksPerSeq: Math.max(1, ...s.seqs.map((q) => Math.ceil(q.seqLen / s.blockSize))),
    numKvHeads: s.numKvHeads,
    qOffset: 0,
    qStride: qView(s).tokenStride / 4,
    scale: geometryOf(s).scale,
    softcap: s.softcap,
    window: s.slidingWindow,
    partitionSize: partition,
  };
}

export function numSplitsFor(maxSeqLen: number, partitionSize: number): number {
  return Math.max(1, Math.ceil(maxSeqLen / partitionSize));
}

type AttnSpec<S extends PagedAttentionShape> = KernelSpec<S, PagedAttentionConfig>;
const base = {
  sources: [source, kvF32, kvF16, attentionCommon, attentionTile],
  uniforms: ATTN_UNIFORMS,
  space: (s: PagedAttentionShape, dev: DeviceInfo) => attentionSpace(s, dev),
  defaultConfig: (s: PagedAttentionShape, dev: DeviceInfo) => attentionDefaultConfig(s, batchStats(s.seqs).maxQueryLen, dev),
  tolerance: (s: PagedAttentionShape) => (s.act === 'f32' ? { atol: 2e-5, rtol: 2e-4 } : { atol: 2e-3, rtol: 4e-3 }),
};

export const pagedAttentionSpec: AttnSpec<PagedAttentionShape> = {
  ...base,
  id: 'attention.paged',
  bindings: () => ATTN_DIRECT_BINDINGS,
  supports: shapeReasons,
  build: (s, cfg) => buildAttentionProgram(s, cfg, false),
  dispatch(s, cfg) {
    const b = batchStats(s.seqs);
    return { grid: attentionGrid(b.numTokens, b.numSeqs, s.numKvHeads, cfg.tq), uniforms: attentionUniforms(s, 0) };
  },
  problemKey: attentionProblemKey,
  outputs: () => ['out'],
  makeInputs: makeAttentionInputs,
  reference(inputs, s): HostTensors {
    const b = batchFromInputs(inputs, batchStats(s.seqs).numTokens);
    const data = pagedAttentionRef(
      inputs.q!.data as Float32Array,
      qView(s),
      inputs.kCache!.data as Float32Array,
      inputs.vCache!.data as Float32Array,
      b,
      geometryOf(s),
      roundAs(s.act),
    );
    return { out: { dtype: s.act, shape: [b.numTokens, s.numHeads, s.headDim], data } };
  },
};

export const pagedAttentionSplitSpec: AttnSpec<PagedAttentionSplitShape> = {
  ...base,
  id: 'attention.paged-split',
  bindings: () => ATTN_SPLIT_BINDINGS,
  supports(s, dev) {
    const r = shapeReasons(s, dev);
    if (!(s.partitionSize >= 1)) r.push('partitionSize must be >= 1');
    return r;
  },
  build: (s, cfg) => buildAttentionProgram(s, cfg, true),
  dispatch(s, cfg) {
    const b = batchStats(s.seqs);
    const n = numSplitsFor(b.maxSeqLen, s.partitionSize);
    return { grid: attentionGrid(b.numTokens, b.numSeqs, s.numKvHeads, cfg.tq, n), uniforms: attentionUniforms(s, s.partitionSize) };
  },
  problemKey: (s) => `${attentionProblemKey(s)}:p${s.partitionSize}`,
  outputs: () => ['partOut', 'partMl'],
  makeInputs(s, seed) {
    const inputs = makeAttentionInputs(s, seed);
    const b = batchStats(s.seqs);
    const n = numSplitsFor(b.maxSeqLen, s.partitionSize);
    delete inputs.out;
    const rows = [n, b.numTokens, s.numHeads];
    // Garbage-filled so that a partial the kernel forgets to write shows up.
    inputs.partOut = { dtype: 'f32', shape: [...rows, s.headDim], data: new Float32Array(n * b.numTokens * s.numHeads * s.headDim).fill(7) };
    inputs.partMl = { dtype: 'f32', shape: [...rows, 2], data: new Float32Array(n * b.numTokens * s.numHeads * 2).fill(7) };
    return inputs;
  },
  reference(inputs, s): HostTensors {
    const st = batchStats(s.seqs);
    const n = numSplitsFor(st.maxSeqLen, s.partitionSize);
    const { partOut, partMl } = splitPartialsRef(
      inputs.q!.data as Float32Array,
      qView(s),
      inputs.kCache!.data as Float32Array,
      inputs.vCache!.data as Float32Array,
      batchFromInputs(inputs, st.numTokens),
      geometryOf(s),
      n,
      s.partitionSize,
    );
    const rows = [n, st.numTokens, s.numHeads];
    return {
      partOut: { dtype: 'f32', shape: [...rows, s.headDim], data: partOut },
      partMl: { dtype: 'f32', shape: [...rows, 2], data: partMl },
    };
  },
  tolerance: () => ({ atol: 1e-4, rtol: 2e-4 }),
};
