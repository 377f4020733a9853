import type { DeviceInfo } from '../gpu/device-info.js';
import source from '../../shaders/attention-tensor.wgsl?raw';
import kvF16 from '../../shaders/attention-kv-f16.wgsl?raw';
import attentionCommon from '../../shaders/attention-common.wgsl?raw';
import attentionTile from '../../shaders/attention-tile.wgsl?raw';
import { ATTN_DIRECT_BINDINGS, attentionUniforms, pagedAttentionSpec } from './attention.js';
import { ATTN_UNIFORMS, attentionDimsReasons, attentionGrid, attentionProblemKey, batchStats, type AttentionDims, type PagedAttentionShape } from './attention-shape.js';
import { constsWgsl } from './matmul-formats.js';
import type { KernelSpec } from './spec.js';
import { composeWgsl } from './wgsl.js';

/**
 * Paged attention on tensor cores for steps with prompt chunks (shaders/attention-tensor.wgsl):
 * the contract of 'attention.paged' (bindings, uniforms, grid scheme, output), with q . k and
 * p . v as subgroup-matrix products, so the backend swaps it in for prefill tiles where the
 * adapter has subgroup matrices and the model runs f16 activations over an f16 cache.
 */

/** Tunables of attention-tensor.wgsl. */
export interface AttentionTensorConfig {
  /** subgroups per workgroup: each takes floor(16 / G) queries x the G heads of the kv head */
  sgs: number;
  /** keys per step (16, 32, 48 or 64) */
  tk: number;
}

const SUB = 16;
const PAD = 8;
const MAX_LOADS = 8;

/** Subgroups, queries per tile, invocations, K/V loads per invocation and step, and workgroup memory of a config. */
export function attentionTensorLayout(d: Pick<AttentionDims, 'numHeads' | 'numKvHeads' | 'headDim'>, c: AttentionTensorConfig, sgSize: number) {
  const G = d.numHeads / d.numKvHeads;
  const nsg = c.sgs;
  const ks = d.headDim + PAD;
  // qt, kt + vt (f16), ss (f32, rows of tk + 4 but the last), pt (f16, rows of tk + PAD but the
  // last), the subgroups' rescale flags, the tile record
  const wgBytes = 2 * nsg * SUB * ks + 2 * 2 * c.tk * ks + 4 * (nsg * SUB * (c.tk + 4) - 4) + 2 * (nsg * SUB * (c.tk + PAD) - PAD) + 16 * Math.ceil(nsg / 4) + 16;
  const wg = nsg * sgSize;
  return { G, nsg, tq: attentionTensorTq(d, c), wg, loads: Math.ceil((c.tk * d.headDim) / 8 / wg), wgBytes };
}

/** Queries per tile (the grid's TQ, attention-tile.wgsl): floor(16 / G) per subgroup. */
export function attentionTensorTq(d: Pick<AttentionDims, 'numHeads' | 'numKvHeads'>, c: AttentionTensorConfig): number {
  return c.sgs * Math.floor(SUB / (d.numHeads / d.numKvHeads));
}

function hasMma16(dev: DeviceInfo): boolean {
  return dev.subgroupMatrixConfigs.some((c) => c.componentType === 'f16' && c.resultComponentType === 'f32' && c.M === SUB && c.N === SUB && c.K === SUB);
}

function dimsReasons(d: AttentionDims, dev: DeviceInfo): string[] {
  const r = attentionDimsReasons(d, dev);
  if (!dev.features.subgroupMatrix) r.push("needs the adapter feature 'chromium-experimental-subgroup-matrix'");
  else if (!hasMma16(dev)) r.push('needs the 16x16x16 f16 -> f32 subgroup-matrix config');
  if (!dev.features.subgroups) r.push("needs 'subgroups'");
  const sg = dev.subgroupMaxSize;
  if (dev.subgroupMinSize !== sg || ![16, 32, 64].includes(sg)) r.push(`needs a fixed subgroup size of 16, 32 or 64 (this adapter has ${dev.subgroupMinSize}..${sg})`);
  if (d.act !== 'f16') r.push('needs f16 activations');
  if (d.kv !== 'f16') r.push('needs an f16 KV cache');
  if (d.headDim % SUB !== 0 || d.headDim > 16 * SUB) r.push(`headDim ${d.headDim} must be a multiple of 16, at most 256`);
  if (d.numKvHeads >= 1 && d.numHeads / d.numKvHeads > SUB) r.push(`at most 16 query heads per kv head (this model has ${d.numHeads / d.numKvHeads})`);
  return r;
}

function configReasons(d: AttentionDims, c: AttentionTensorConfig, dev: DeviceInfo): string[] {
  const L = attentionTensorLayout(d, c, dev.subgroupMaxSize);
  const r: string[] = [];
  if (c.tk % SUB !== 0 || c.tk < SUB || c.tk > 4 * SUB) r.push(`tk ${c.tk} must be 16, 32, 48 or 64`);
  if (L.wg > dev.limits.maxComputeInvocationsPerWorkgroup || L.wg > dev.limits.maxComputeWorkgroupSizeX) r.push(`${L.nsg} subgroups exceed the workgroup size limit`);
  // the next step's K and V wait in registers: 2 x 4 words per load
  if (L.loads > MAX_LOADS) r.push(`${L.loads} K/V loads per invocation and step (at most ${MAX_LOADS})`);
  if (L.wgBytes > dev.limits.maxComputeWorkgroupStorageSize) r.push(`needs ${L.wgBytes} bytes of workgroup memory, the device has ${dev.limits.maxComputeWorkgroupStorageSize}`);
  return r;
}

function space(s: AttentionDims, dev: DeviceInfo): AttentionTensorConfig[] {
  if (dimsReasons(s, dev).length) return [];
  const out: AttentionTensorConfig[] = [];
  for (const sgs of [4, 2, 1]) for (const tk of [32, 16, 64]) if (configReasons(s, { sgs, tk }, dev).length === 0) out.push({ sgs, tk });
  return out;
}

export const attentionTensorSpec: KernelSpec<PagedAttentionShape, AttentionTensorConfig> = {
  id: 'attention.tensor',
  sources: [source, kvF16, attentionCommon, attentionTile],
  uniforms: ATTN_UNIFORMS,
  bindings: () => ATTN_DIRECT_BINDINGS,
  supports(s, dev) {
    const r = dimsReasons(s, dev);
    if (r.length) return r;
    if (space(s, dev).length === 0) r.push(`no tile config fits ${s.numHeads / s.numKvHeads} query heads per kv head, headDim ${s.headDim} in workgroup memory`);
    const b = batchStats(s.seqs);
    if (b.numTokens + b.numSeqs > dev.limits.maxComputeWorkgroupsPerDimension) r.push(`${b.numTokens} tokens exceed the grid limit`);
    for (const q of s.seqs) if (q.queryLen > q.seqLen) r.push(`queryLen ${q.queryLen} > seqLen ${q.seqLen}`);
    return r;
  },
  space,
  // 4 subgroups per workgroup in 32-key steps, where they fit (the space's first; H200, Llama-3.1-8B
  // heads, one-pass kernel, bench/attention.ts --tune, same call, a prompt of 512 / 2048 tokens and
  // 4 of 1024: 0.0986 / 0.931 / 0.951 ms per layer, where 16-key steps took 0.1025 / 0.980 /
  // 0.990, 2 subgroups 0.126 / 1.246 / 1.238 and 1 subgroup 0.203 / 2.262 / 2.226; the engine's
  // prefill pass at 512 tokens, alternated 3 times: 49.06-49.08 ms against 49.14-49.21 with
  // 16-key steps).
  defaultConfig(s, dev) {
    return space(s, dev)[0] ?? { sgs: 1, tk: 16 };
  },
  build(s, cfg, dev) {
    return {
      source: composeWgsl(source, {
        act: s.act,
        uniforms: ATTN_UNIFORMS,
        enables: ['f16', 'subgroups', 'chromium_experimental_subgroup_matrix'],
        libs: [
          constsWgsl({ D: s.headDim, G: s.numHeads / s.numKvHeads, NSG: cfg.sgs, TK: cfg.tk, BLOCK_SIZE: s.blockSize, SG_SIZE: dev.subgroupMaxSize }),
          kvF16,
          attentionCommon,
          attentionTile,
        ],
      }),
      entryPoint: 'main',
      constants: {},
    };
  },
  dispatch(s, cfg) {
    const b = batchStats(s.seqs);
    return { grid: attentionGrid(b.numTokens, b.numSeqs, s.numKvHeads, attentionTensorTq(s, cfg)), uniforms: attentionUniforms(s, 0) };
  },
  problemKey: attentionProblemKey,
  outputs: () => ['out'],
  makeInputs: pagedAttentionSpec.makeInputs,
  reference: pagedAttentionSpec.reference,
  // P is rounded to f16 for the tensor cores: a little more than the f16 output's rounding
  tolerance: () => ({ atol: 3e-3, rtol: 6e-3 }),
};
