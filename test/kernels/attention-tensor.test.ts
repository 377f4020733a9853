import { describe, expect, it } from 'vitest';
import type { DeviceInfo } from '../../src/gpu/device-info.js';
import { attentionTensorLayout, attentionTensorSpec } from '../../src/kernels/attention-tensor.js';
import type { PagedAttentionShape } from '../../src/kernels/attention-shape.js';

// What the tensor-core attention kernel can run where, without a GPU: its numerics are checked by
// the conformance suite on adapters with subgroup matrices (`wgllm selftest --kernel
// attention.tensor`); SwiftShader has none, so here every case reports why it is skipped.

/** The features and limits of an NVIDIA H200 under Dawn (bench/results/info-nvidia-h200.txt). */
const H200 = {
  features: { f16: true, subgroups: true, timestampQuery: true, subgroupMatrix: true, packedDot: true },
  subgroupMinSize: 32,
  subgroupMaxSize: 32,
  subgroupMatrixConfigs: [{ componentType: 'f16', resultComponentType: 'f32', M: 16, N: 16, K: 16 }],
  limits: { maxComputeInvocationsPerWorkgroup: 1024, maxComputeWorkgroupSizeX: 1024, maxComputeWorkgroupStorageSize: 49152, maxComputeWorkgroupsPerDimension: 65535 },
} as unknown as DeviceInfo;

const shape = (numHeads: number, numKvHeads: number, headDim: number, extra: Partial<PagedAttentionShape> = {}): PagedAttentionShape => ({
  act: 'f16',
  kv: 'f16',
  numHeads,
  numKvHeads,
  headDim,
  blockSize: 16,
  seqs: [{ queryLen: 512, seqLen: 512 }],
  softcap: 0,
  slidingWindow: 0,
  fusedQkv: true,
  ...extra,
});

describe('attention.tensor: where it runs', () => {
  it("takes Llama-3.1-8B's heads, with every config of its space within the workgroup memory", () => {
    const s = shape(32, 8, 128);
    expect(attentionTensorSpec.supports(s, H200)).toEqual([]);
    const space = attentionTensorSpec.space(s, H200);
    expect(space.length).toBeGreaterThan(0);
    for (const c of space) expect(attentionTensorLayout(s, c, 32).wgBytes).toBeLessThanOrEqual(49152);
    const d = attentionTensorSpec.defaultConfig(s, H200);
    expect(space).toContainEqual(d);
    // 4 subgroups of 4 queries x the 4 query heads of a kv head
    expect(attentionTensorLayout(s, d, 32)).toMatchObject({ nsg: 4, tq: 16, wg: 128 });
    expect(attentionTensorSpec.dispatch(s, d, H200).grid).toEqual([512 / 16 + 1, 8, 1]);
  });

  it('fills each subgroup with queries x heads, padding rows where G does not divide 16', () => {
    const mha = shape(12, 12, 64);
    expect(attentionTensorLayout(mha, { sgs: 4, tk: 32 }, 32).tq).toBe(64);
    // Qwen2.5-7B: 7 query heads per kv head, 2 queries per subgroup (2 padding rows)
    const qwen = shape(28, 4, 128);
    expect(attentionTensorSpec.supports(qwen, H200)).toEqual([]);
    expect(attentionTensorLayout(qwen, attentionTensorSpec.defaultConfig(qwen, H200), 32).tq).toBe(8);
  });

  it('says why it cannot run', () => {
    const reasons = (s: PagedAttentionShape, dev = H200) => attentionTensorSpec.supports(s, dev).join('; ');
    expect(reasons(shape(32, 8, 128, { act: 'f32' }))).toMatch(/f16 activations/);
    expect(reasons(shape(32, 8, 128, { kv: 'f32' }))).toMatch(/f16 KV cache/);
    expect(reasons(shape(32, 8, 72))).toMatch(/multiple of 16/);
    expect(reasons(shape(64, 2, 128))).toMatch(/at most 16 query heads/);
    expect(reasons(shape(32, 8, 128), { ...H200, features: { ...H200.features, subgroupMatrix: false } })).toMatch(/subgroup-matrix/);
    expect(reasons(shape(32, 8, 128), { ...H200, subgroupMinSize: 8, subgroupMaxSize: 32 })).toMatch(/fixed subgroup size/);
  });
});
