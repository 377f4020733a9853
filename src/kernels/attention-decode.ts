import type { DeviceInfo } from '../gpu/device-info.js';
import source from '../../shaders/attention-decode.wgsl?raw';
import kvF32 from '../../shaders/attention-kv-f32.wgsl?raw';
import kvF16 from '../../shaders/attention-kv-f16.wgsl?raw';
import attentionCommon from '../../shaders/attention-common.wgsl?raw';
import mathF32 from '../../shaders/attention-decode-math-f32.wgsl?raw';
import mathF16 from '../../shaders/attention-decode-math-f16.wgsl?raw';
import { ATTN_DIRECT_BINDINGS, ATTN_SPLIT_BINDINGS, attentionUniforms, numSplitsFor, pagedAttentionSpec, pagedAttentionSplitSpec } from './attention.js';
import {
  ATTN_UNIFORMS,
  KV_CHUNK,
  KV_LIBS,
  attentionDimsReasons,
  attentionProblemKey,
  batchStats,
  type AttentionDims,
  type PagedAttentionShape,
  type PagedAttentionSplitShape,
} from './attention-shape.js';
import { constsWgsl } from './matmul-formats.js';
import type { KernelProgram, KernelSpec } from './spec.js';
import { composeWgsl } from './wgsl.js';

/**
 * Paged attention for decode-only steps (shaders/attention-decode.wgsl): every sequence has one
 * query. It reads K/V straight into registers, sums q . k over the lanes of a key with subgroup
 * shuffles and keeps an online softmax per lane, so there is no workgroup-memory staging and no
 * barrier per key tile (attention.wgsl's general kernel has four). Same bindings, uniforms and
 * partials layout as 'attention.paged' / 'attention.paged-split', so the backend swaps it in for
 * decode steps and the same reduce kernel combines its splits.
 */

/** Tunables of attention-decode.wgsl. */
export interface AttentionDecodeConfig {
  /** lanes per key: each holds headDim / lpk dims (a power of two <= the subgroup size) */
  lpk: number;
  /** subgroups per workgroup */
  nw: number;
  /** keys per lane per iteration (loads in flight) */
  u: number;
  /** multiply q, K and V in f16 (f16 cache and activations only; absent: f32) */
  half?: boolean;
}

/** Whether f16 math can run: the cache holds f16 and the activations are f16 (shader-f16). */
function halfMathOk(d: AttentionDims): boolean {
  return d.kv === 'f16' && d.act === 'f16';
}

/** Block-table entries are staged for about this many keys at a time. */
const CHUNK_KEYS = 1024;

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/** Keys per workgroup iteration, and the block-table chunk (a multiple of it and of the block size). */
export function decodeLayout(d: AttentionDims, c: AttentionDecodeConfig, sg: number) {
  const G = d.numHeads / d.numKvHeads;
  const kpi = (sg / c.lpk) * c.nw * c.u;
  const unit = (kpi * d.blockSize) / gcd(kpi, d.blockSize);
  const ch = unit * Math.max(1, Math.ceil(CHUNK_KEYS / unit));
  const wgBytes = 4 * (ch / d.blockSize) + 8 * c.nw * G + 16 * c.nw * G * (d.headDim / 4);
  const nv = (d.headDim / (c.lpk * KV_CHUNK[d.kv])) * (KV_CHUNK[d.kv] / 4);
  return { G, kpi, ch, wgBytes, nv };
}

/** Most vec4 registers per lane for q and for the accumulator (G rows x dims per lane). */
const MAX_ROW_VEC4S = 64;

export function decodeConfigReasons(d: AttentionDims, c: AttentionDecodeConfig, dev: DeviceInfo): string[] {
  const r: string[] = [];
  const sg = dev.subgroupMaxSize;
  const L = decodeLayout(d, c, sg);
  if (c.lpk > sg || (c.lpk & (c.lpk - 1)) !== 0) r.push(`lpk ${c.lpk} must be a power of two <= the subgroup size ${sg}`);
  if (d.headDim % (c.lpk * KV_CHUNK[d.kv]) !== 0) r.push(`headDim ${d.headDim} is not a multiple of lpk ${c.lpk} x ${KV_CHUNK[d.kv]}`);
  if (sg * c.nw > dev.limits.maxComputeInvocationsPerWorkgroup || sg * c.nw > dev.limits.maxComputeWorkgroupSizeX) r.push(`${c.nw} subgroups exceed the workgroup size limit`);
  if (L.G * L.nv > MAX_ROW_VEC4S) r.push(`${L.G} rows x ${L.nv * 4} dims per lane is too many registers`);
  if (L.wgBytes > dev.limits.maxComputeWorkgroupStorageSize) r.push(`needs ${L.wgBytes} bytes of workgroup memory`);
  if (c.half && !halfMathOk(d)) r.push('f16 math needs an f16 cache and f16 activations');
  return r;
}

function decodeSpace(d: AttentionDims, dev: DeviceInfo): AttentionDecodeConfig[] {
  const out: AttentionDecodeConfig[] = [];
  // The two widest key splits that fit: narrower ones need more registers per lane.
  const lpks: number[] = [];
  for (let lpk = dev.subgroupMaxSize; lpk >= 1 && lpks.length < 2; lpk /= 2) {
    if (d.headDim % (lpk * KV_CHUNK[d.kv]) === 0) lpks.push(lpk);
  }
  for (const lpk of lpks) {
    for (const nw of [4, 8]) {
      for (const u of [4, 2, 8]) {
        for (const half of halfMathOk(d) ? [false, true] : [false]) {
          const c = { lpk, nw, u, ...(half ? { half } : {}) };
          if (decodeConfigReasons(d, c, dev).length === 0) out.push(c);
        }
      }
    }
  }
  return out;
}

/**
 * Default: a key row split over as many lanes as take one 16-byte load each (up to the subgroup),
 * 4 subgroups, 4 keys in flight per lane; 8 on NVIDIA with an f16 cache; f32 math. H200, batch
 * 32 x 4096, Llama-3.1-8B heads, split kernel alone at steady clocks (bench/attention-probe.ts,
 * 1024 keys per split, one run): u 8 read 2599 GB/s, u 4 2036; f16 math 2429 (the K/V
 * conversions it saves are not what limits the kernel); nw 2 2654, nw 8 with u 4 1964. The same
 * run's edits show where the rest goes: loads only 3472 GB/s, no softmax 3018, no shuffles 2625.
 */
function decodeDefault(d: AttentionDims, dev: DeviceInfo): AttentionDecodeConfig {
  const space = decodeSpace(d, dev);
  const chunks = d.headDim / KV_CHUNK[d.kv];
  const want = Math.min(dev.subgroupMaxSize, 1 << Math.floor(Math.log2(chunks)));
  const u = /nvidia/i.test(dev.vendor) && d.kv === 'f16' ? 8 : 4;
  const pick = space.filter((c) => c.nw === 4 && c.u === u && !c.half).sort((a, b) => Math.abs(Math.log2(a.lpk / want)) - Math.abs(Math.log2(b.lpk / want)))[0];
  return pick ?? space[0] ?? { lpk: 1, nw: 1, u: 1 };
}

function decodeReasons(s: PagedAttentionShape, dev: DeviceInfo): string[] {
  const r = attentionDimsReasons(s, dev);
  if (!dev.features.subgroups) r.push("needs 'subgroups'");
  else if (dev.subgroupMinSize !== dev.subgroupMaxSize || dev.subgroupMaxSize === 0) {
    r.push(`needs a fixed subgroup size (this adapter has ${dev.subgroupMinSize}..${dev.subgroupMaxSize})`);
  }
  if (r.length) return r;
  if (s.seqs.some((q) => q.queryLen !== 1)) r.push('decode steps only: every sequence has one query');
  if (s.seqs.length > dev.limits.maxComputeWorkgroupsPerDimension) r.push(`${s.seqs.length} sequences exceed the grid limit`);
  if (decodeSpace(s, dev).length === 0) r.push(`no config fits headDim ${s.headDim} with ${s.numHeads / s.numKvHeads} query heads per kv head`);
  return r;
}

export function buildDecodeProgram(d: AttentionDims, cfg: AttentionDecodeConfig, dev: DeviceInfo, split: boolean): KernelProgram {
  const sg = dev.subgroupMaxSize;
  const L = decodeLayout(d, cfg, sg);
  const consts = { D: d.headDim, G: L.G, BLOCK_SIZE: d.blockSize, SG: sg, LPK: cfg.lpk, NW: cfg.nw, U: cfg.u, CH: L.ch };
  return {
    source: composeWgsl(source, { act: d.act, uniforms: ATTN_UNIFORMS, enables: ['subgroups'], libs: [KV_LIBS[d.kv], cfg.half ? mathF16 : mathF32, attentionCommon, constsWgsl(consts)] }),
    entryPoint: split ? 'main_split' : 'main',
    constants: {},
  };
}

type DecodeSpec<S extends PagedAttentionShape> = KernelSpec<S, AttentionDecodeConfig>;
const base = {
  sources: [source, kvF32, kvF16, mathF32, mathF16, attentionCommon],
  uniforms: ATTN_UNIFORMS,
  space: (s: PagedAttentionShape, dev: DeviceInfo) => decodeSpace(s, dev),
  defaultConfig: (s: PagedAttentionShape, dev: DeviceInfo) => decodeDefault(s, dev),
};

export const attentionDecodeSpec: DecodeSpec<PagedAttentionShape> = {
  ...base,
  id: 'attention.decode',
  bindings: () => ATTN_DIRECT_BINDINGS,
  supports: decodeReasons,
  build: (s, cfg, dev) => buildDecodeProgram(s, cfg, dev, false),
  dispatch: (s) => ({ grid: [s.seqs.length, s.numKvHeads, 1], uniforms: attentionUniforms(s, 0) }),
  problemKey: (s) => `decode:${attentionProblemKey(s)}`,
  outputs: () => ['out'],
  makeInputs: pagedAttentionSpec.makeInputs,
  reference: pagedAttentionSpec.reference,
  tolerance: pagedAttentionSpec.tolerance,
};

export const attentionDecodeSplitSpec: DecodeSpec<PagedAttentionSplitShape> = {
  ...base,
  id: 'attention.decode-split',
  bindings: () => ATTN_SPLIT_BINDINGS,
  supports(s, dev) {
    const r = decodeReasons(s, dev);
    if (!(s.partitionSize >= 1)) r.push('partitionSize must be >= 1');
    return r;
  },
  build: (s, cfg, dev) => buildDecodeProgram(s, cfg, dev, true),
  dispatch(s) {
    const n = numSplitsFor(batchStats(s.seqs).maxSeqLen, s.partitionSize);
    return { grid: [s.seqs.length, s.numKvHeads, n], uniforms: attentionUniforms(s, s.partitionSize) };
  },
  problemKey: (s) => `decode:${attentionProblemKey(s)}:p${s.partitionSize}`,
  outputs: () => ['partOut', 'partMl'],
  makeInputs: pagedAttentionSplitSpec.makeInputs,
  reference: pagedAttentionSplitSpec.reference,
  tolerance: pagedAttentionSplitSpec.tolerance,
};
