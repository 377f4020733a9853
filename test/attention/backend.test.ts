import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/core/random.js';
import { readBuffer, uploadBuffer } from '../../src/gpu/buffers.js';
import { CpuAttentionBackend, HostPagedKVCache } from '../../src/attention/cpu-backend.js';
import { PagedKVCache } from '../../src/attention/paged-kv-cache.js';
import { WgslAttentionBackend, fusedQkvViews, type WgslAttentionConfigs } from '../../src/attention/wgsl-backend.js';
import type { SplitPolicy } from '../../src/attention/split-plan.js';
import type { KvDType } from '../../src/kernels/attention-shape.js';
import { compareTensors, hostTensorFromBytes } from '../../src/kernels/host-tensors.js';
import { attentionTestGpu } from './gpu.js';
import { BatchSim, type SimOptions } from './sim.js';

// The WGSL backend against the CPU backend on simulated serving steps: new prompts, chunked
// prefills over a cached prefix, shared prefix blocks, decodes; shuffled block tables; two
// layers; the cache carried across steps.
const ctx = await attentionTestGpu();

interface Scenario {
  name: string;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  kv: KvDType;
  sim: Omit<SimOptions, 'numBlocks'> & { numBlocks?: number };
  steps: number;
  softcap?: number;
  slidingWindow?: number;
  split?: Partial<SplitPolicy>;
  configs?: Partial<WgslAttentionConfigs>;
  /** some step must take the split-KV path */
  expectSplit?: boolean;
  /** layers (2 by default) */
  layers?: number;
}

const SCENARIOS: Scenario[] = [
  {
    name: 'MHA d32, bs16, f32 KV, mixed batches',
    numHeads: 4, numKvHeads: 4, headDim: 32, kv: 'f32', steps: 6,
    sim: { blockSize: 16, maxSeqs: 6, tokenBudget: 96, maxPrompt: 90, maxChunk: 40 },
  },
  {
    name: 'GQA 2 d64, bs8, f16 KV, softcap + sliding window',
    numHeads: 8, numKvHeads: 4, headDim: 64, kv: 'f16', steps: 6, softcap: 20, slidingWindow: 37,
    sim: { blockSize: 8, maxSeqs: 5, tokenBudget: 64, maxPrompt: 120, maxChunk: 30 },
  },
  {
    // one sequence of ~2k tokens: prefilled in chunks over its growing prefix, then decodes
    name: 'GQA 4 d16, bs16, long context (split-KV decodes)',
    numHeads: 4, numKvHeads: 1, headDim: 16, kv: 'f32', steps: 5, expectSplit: true, layers: 1,
    split: { partitionSize: 256, targetWorkgroups: 64 },
    sim: { blockSize: 16, maxSeqs: 1, tokenBudget: 1024, maxPrompt: 2100, maxChunk: 1024 },
  },
  {
    // the same, with decodes on the general tiled kernel (adapters without fixed-size subgroups)
    name: 'GQA 4 d16, bs16, long context, tiled kernel for decodes',
    numHeads: 4, numKvHeads: 1, headDim: 16, kv: 'f32', steps: 5, expectSplit: true, layers: 1,
    configs: { decodeVec: null },
    split: { partitionSize: 256, targetWorkgroups: 64 },
    sim: { blockSize: 16, maxSeqs: 1, tokenBudget: 1024, maxPrompt: 2100, maxChunk: 1024 },
  },
  {
    name: 'GQA 8 d80, bs32, f32 KV',
    numHeads: 8, numKvHeads: 1, headDim: 80, kv: 'f32', steps: 5,
    sim: { blockSize: 32, maxSeqs: 4, tokenBudget: 48, maxPrompt: 70, maxChunk: 24 },
  },
  {
    name: 'GQA 2 d256, bs16, f16 KV',
    numHeads: 4, numKvHeads: 2, headDim: 256, kv: 'f16', steps: 4,
    sim: { blockSize: 16, maxSeqs: 3, tokenBudget: 24, maxPrompt: 40, maxChunk: 16 },
  },
];


async function runScenario(sc: Scenario, seed: number) {
  const rng = new Rng(seed);
  const NUM_LAYERS = sc.layers ?? 2;
  const numBlocks = sc.sim.numBlocks ?? 400;
  const dims = { act: 'f32' as const, numHeads: sc.numHeads, numKvHeads: sc.numKvHeads, headDim: sc.headDim, softcap: sc.softcap, slidingWindow: sc.slidingWindow };
  const limits = { maxNumTokens: sc.sim.tokenBudget, maxNumSeqs: sc.sim.maxSeqs + 1, maxBlocksPerSeq: 256 };
  const cache = await PagedKVCache.create(ctx, { numLayers: NUM_LAYERS, numKvHeads: sc.numKvHeads, headDim: sc.headDim, blockSize: sc.sim.blockSize, dtype: sc.kv, numBlocks });
  const gpu = await WgslAttentionBackend.create(ctx, { dims, cache, limits, split: { maxTokens: 8, ...sc.split }, configs: sc.configs });
  const host = new HostPagedKVCache(NUM_LAYERS, sc.numKvHeads, sc.headDim, sc.sim.blockSize, numBlocks, sc.kv);
  const cpu = new CpuAttentionBackend(dims, host, limits);
  const rowLen = (sc.numHeads + 2 * sc.numKvHeads) * sc.headDim;
  const outLen = limits.maxNumTokens * sc.numHeads * sc.headDim;
  // Per layer: a fused qkv buffer and an output buffer, bound once.
  const qkvBufs = Array.from({ length: NUM_LAYERS }, (_, l) => uploadBuffer(ctx, new Float32Array(limits.maxNumTokens * rowLen), `qkv${l}`));
  const outBufs = Array.from({ length: NUM_LAYERS }, (_, l) => uploadBuffer(ctx, new Float32Array(outLen), `out${l}`));
  const gpuBindings = qkvBufs.map((b, l) => gpu.bindLayer(l, { ...fusedQkvViews(b, sc), out: outBufs[l]! }));
  const views = { qView: { offset: 0, tokenStride: rowLen }, kView: { offset: sc.numHeads * sc.headDim, tokenStride: rowLen }, vView: { offset: (sc.numHeads + sc.numKvHeads) * sc.headDim, tokenStride: rowLen } };
  const sim = new BatchSim({ ...sc.sim, numBlocks }, rng);
  const plans: string[] = [];
  let worst = 0;
  try {
    for (let step = 0; step < sc.steps; step++) {
      const batch = sim.next();
      const mdGpu = gpu.buildMetadata(batch);
      const mdCpu = cpu.buildMetadata(batch);
      plans.push(`${mdGpu.plan.tiles}${mdGpu.plan.kernel === 'decode' ? '+sg' : ''}/${mdGpu.plan.numSplits}`);
      const n = mdGpu.numTokens;
      const enc = ctx.device.createCommandEncoder();
      const pass = enc.beginComputePass();
      const cpuOuts: Float32Array[] = [];
      for (let l = 0; l < NUM_LAYERS; l++) {
        const qkv = new Float32Array(n * rowLen);
        for (let i = 0; i < qkv.length; i++) qkv[i] = Math.fround(rng.normal() * 1.5);
        ctx.queue.writeBuffer(qkvBufs[l]!, 0, qkv);
        gpu.forward(pass, gpuBindings[l]!, mdGpu);
        const out = new Float32Array(outLen);
        cpu.forward(null, cpu.bindLayer(l, { q: qkv, k: qkv, v: qkv, out, ...views }), mdCpu);
        cpuOuts.push(out);
      }
      pass.end();
      ctx.queue.submit([enc.finish()]);
      for (let l = 0; l < NUM_LAYERS; l++) {
        const got = new Float32Array(await readBuffer(ctx, outBufs[l]!, 4 * n * sc.numHeads * sc.headDim));
        const want = cpuOuts[l]!.subarray(0, got.length);
        const cmp = compareTensors(got, want, { atol: 2e-5, rtol: 2e-4 });
        worst = Math.max(worst, cmp.worstRatio);
        expect(cmp.ok, `${sc.name} step ${step} layer ${l}: out[${cmp.firstBad?.index}] = ${cmp.firstBad?.got}, want ${cmp.firstBad?.want}`).toBe(true);
      }
    }
    // The caches must match the CPU's exactly (f16: up to pack2x16float's rounding).
    for (let l = 0; l < NUM_LAYERS; l++) {
      for (const which of ['k', 'v'] as const) {
        const like = { dtype: sc.kv, shape: [], data: host.layers[l]![which] };
        const bytes = await readBuffer(ctx, cache.layer(l)[which]);
        const got = hostTensorFromBytes(bytes, like).data;
        const cmp = compareTensors(got, host.layers[l]![which], sc.kv === 'f32' ? { atol: 0, rtol: 0 } : { atol: 1e-7, rtol: 1e-3 });
        expect(cmp.ok, `${sc.name} cache ${l}.${which}[${cmp.firstBad?.index}]`).toBe(true);
      }
    }
  } finally {
    gpu.dispose();
    cache.dispose();
    for (const b of [...qkvBufs, ...outBufs]) b.destroy();
  }
  return { plans, worst };
}

describe('WGSL attention backend vs CPU backend', () => {
  for (const [i, sc] of SCENARIOS.entries()) {
    it(sc.name, async () => {
      const { plans, worst } = await runScenario(sc, 1000 + i);
      if (sc.expectSplit) expect(plans.some((p) => !p.endsWith('/1')), `plans ${plans}`).toBe(true);
      // Decode-only steps take the subgroup kernel wherever the adapter has fixed-size subgroups.
      const sgDecode = ctx.info.features.subgroups && ctx.info.subgroupMinSize === ctx.info.subgroupMaxSize && sc.configs?.decodeVec !== null;
      for (const p of plans.filter((x) => x.startsWith('decode'))) expect(p.includes('+sg'), `plans ${plans}`).toBe(sgDecode);
      // A visible trace of what ran: the plan per step and how close to tolerance it got.
      console.log(`${sc.name}: plans ${plans.join(' ')}; worst |err|/tol ${worst.toFixed(3)}`);
    });
  }
});

