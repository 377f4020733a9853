/**
 * Attention benchmark: decode (batch 1..64, context 512..32k) as GB/s of KV read, and prefill
 * (one prompt of 512..8k, and 4 prompts of 1k) as TFLOP/s, through the WGSL attention backend
 * (KV write excluded: it is timed by neither), with Llama-3.1-8B's heads by default. Checks
 * correctness first (bench/attention-check.ts). Writes JSON to bench/results/.
 *
 *   node bench/build.mjs bench/attention.ts && node bench/dist/attention.js --quick
 *   GPU machine: bash .gpu/run.sh node bench/dist/attention.js --out $OUT/attention.json
 *
 * Options: --quick (tiny shapes, seconds on SwiftShader), --act f16|f32, --kv f16|f32,
 * --heads 32/8/128 (numHeads/numKvHeads/headDim), --batches 1,4,16,64, --contexts 512,..., --prompts
 * 512,2048,8192, --iters N, --check on|quick|off, --tune (decode: every decode tile x split partition
 * 0|256|512|1024|2048; prefill: every tile of the space), --out FILE.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import type { ActDType } from '../src/core/dtype.js';
import { Rng } from '../src/core/random.js';
import { acquireGpu } from '../src/gpu/acquire.js';
import { createBuffer } from '../src/gpu/buffers.js';
import type { GpuContext } from '../src/gpu/context.js';
import { GpuTimer } from '../src/gpu/timer.js';
import { PagedKVCache } from '../src/attention/paged-kv-cache.js';
import { WgslAttentionBackend, fusedQkvViews, type WgslAttentionConfigs } from '../src/attention/wgsl-backend.js';
import type { SplitPolicy } from '../src/attention/split-plan.js';
import type { StepSeq } from '../src/attention/types.js';
import { attentionSpace, KV_BYTES, type KvDType, type PagedAttentionConfig } from '../src/kernels/attention-shape.js';
import { createNodePlatform } from '../src/platform/node/index.js';
import { checkAttention } from './attention-check.js';

process.env.XDG_RUNTIME_DIR ??= '/tmp';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    act: { type: 'string' },
    kv: { type: 'string' },
    heads: { type: 'string' },
    batches: { type: 'string' },
    contexts: { type: 'string' },
    prompts: { type: 'string' },
    iters: { type: 'string' },
    check: { type: 'string', default: 'on' },
    tune: { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});
const nums = (s: string | undefined, d: number[]) => (s ? s.split(/[,/]/).map(Number) : d);

interface Dims {
  act: ActDType;
  kv: KvDType;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  blockSize: number;
}

interface Row {
  kind: 'decode' | 'prefill';
  batch: number;
  context: number;
  /** tokens per prompt (prefill) */
  queryLen: number;
  ms: number;
  gbps?: number;
  tflops?: number;
  plan?: unknown;
  configs?: unknown;
  best?: { ms: number; gbps?: number; tflops?: number; tile: PagedAttentionConfig; partitionSize: number };
  skipped?: string;
}

/** Times one step layout: rotates over `layers` caches so the KV streams from DRAM, not L2. */
async function timeStep(
  ctx: GpuContext,
  timer: GpuTimer,
  d: Dims,
  seqs: { queryLen: number; seqLen: number }[],
  layers: number,
  iters: number,
  configs: Partial<WgslAttentionConfigs>,
  split: Partial<SplitPolicy>,
): Promise<{ ms: number; plan: unknown; configs: WgslAttentionConfigs }> {
  const rng = new Rng(1);
  const blocksPer = seqs.map((s) => Math.ceil(s.seqLen / d.blockSize));
  const numBlocks = 1 + blocksPer.reduce((a, b) => a + b, 0);
  const numTokens = seqs.reduce((a, s) => a + s.queryLen, 0);
  const cache = await PagedKVCache.create(ctx, { numLayers: layers, numKvHeads: d.numKvHeads, headDim: d.headDim, blockSize: d.blockSize, dtype: d.kv, numBlocks });
  const limits = { maxNumTokens: numTokens, maxNumSeqs: seqs.length, maxBlocksPerSeq: Math.max(...blocksPer) };
  const backend = await WgslAttentionBackend.create(ctx, { dims: d, cache, limits, configs, split: { maxTokens: Math.min(64, numTokens), ...split } });
  const elem = d.act === 'f16' ? 2 : 4;
  const qkv = createBuffer(ctx, numTokens * (d.numHeads + 2 * d.numKvHeads) * d.headDim * elem, 'bench:qkv');
  const out = createBuffer(ctx, numTokens * d.numHeads * d.headDim * elem, 'bench:out');
  try {
    const bindings = Array.from({ length: layers }, (_, l) => backend.bindLayer(l, { ...fusedQkvViews(qkv, d), out }));
    // Shuffled, non-contiguous blocks, as a long-running server's tables are.
    const pool = rng.shuffle(Array.from({ length: numBlocks - 1 }, (_, i) => i + 1));
    let next = 0;
    const step: StepSeq[] = seqs.map((s, i) => ({ ...s, blockIds: pool.slice(next, (next += blocksPer[i]!)) }));
    const md = backend.buildMetadata({ seqs: step });
    let i = 0;
    const record = (pass: GPUComputePassEncoder) => backend.forward(pass, bindings[i++ % layers]!, md, { skipKvWrite: true });
    await timer.time(record, Math.min(iters, layers)); // warm-up
    const runs: number[] = [];
    for (let r = 0; r < 3; r++) runs.push(await timer.time(record, iters));
    return { ms: runs.sort((a, b) => a - b)[1]!, plan: md.plan, configs: backend.configs };
  } finally {
    backend.dispose();
    cache.dispose();
    qkv.destroy();
    out.destroy();
  }
}

async function main(): Promise<void> {
  const ctx = await acquireGpu(createNodePlatform());
  const dev = ctx.info;
  console.log(`adapter: ${dev.vendor} ${dev.architecture} ${dev.device} (${dev.description}); f16 ${dev.features.f16}, subgroups ${dev.features.subgroups}, timestamps ${dev.features.timestampQuery}`);
  const quick = args.quick ?? false;
  const [numHeads, numKvHeads, headDim] = nums(args.heads, quick ? [4, 2, 32] : [32, 8, 128]) as [number, number, number];
  const d: Dims = {
    act: (args.act ?? (dev.features.f16 ? 'f16' : 'f32')) as ActDType,
    kv: (args.kv ?? (dev.features.f16 ? 'f16' : 'f32')) as KvDType,
    numHeads,
    numKvHeads,
    headDim,
    blockSize: 16,
  };
  const batches = nums(args.batches, quick ? [1, 3] : [1, 4, 16, 64]);
  const contexts = nums(args.contexts, quick ? [40, 300] : [512, 2048, 8192, 32768]);
  const prompts = nums(args.prompts, quick ? [64] : [512, 2048, 8192]);
  const iters = Number(args.iters ?? (quick ? 2 : 20));
  const report: Record<string, unknown> = { date: new Date().toISOString(), adapter: dev, dims: d, args, check: undefined, results: [] };
  if (args.check !== 'off') report.check = await checkAttention(ctx, quick || args.check === 'quick');

  const timer = new GpuTimer(ctx);
  const rows = report.results as Row[];
  const kvTokenBytes = 2 * d.numKvHeads * d.headDim * KV_BYTES[d.kv]; // K + V of one token, one layer
  const maxBinding = Math.min(dev.limits.maxStorageBufferBindingSize, dev.limits.maxBufferSize);
  const space = attentionSpace(d, dev);
  for (const batch of batches) {
    for (const context of contexts) {
      const base = { kind: 'decode' as const, batch, context, queryLen: 1 };
      const kvBytes = batch * context * kvTokenBytes;
      if (kvBytes / 2 > maxBinding) {
        rows.push({ ...base, ms: NaN, skipped: `K of one layer (${(kvBytes / 2 / 2 ** 30).toFixed(1)} GiB) exceeds the max storage binding` });
        continue;
      }
      // Rotate over enough layers (>= 256 MiB of KV) that each timing reads DRAM, not L2.
      const layers = quick ? 1 : Math.max(1, Math.min(16, Math.ceil(2 ** 28 / kvBytes), Math.floor((8 * 2 ** 30) / kvBytes)));
      const seqs = Array.from({ length: batch }, () => ({ queryLen: 1, seqLen: context }));
      try {
        const t = await timeStep(ctx, timer, d, seqs, layers, iters, {}, {});
        const row: Row = { ...base, ms: t.ms, gbps: kvBytes / t.ms / 1e6, plan: t.plan, configs: t.configs.split };
        if (args.tune) {
          let best = { ms: t.ms, tile: t.configs.decode, partitionSize: -1 };
          for (const tile of space.filter((c) => c.tq === 1)) {
            for (const partitionSize of [0, 256, 512, 1024, 2048]) {
              const split = partitionSize === 0 ? { enabled: false } : { partitionSize, targetWorkgroups: 1 << 20 };
              const r = await timeStep(ctx, timer, d, seqs, layers, iters, { decode: tile, split: tile }, split).catch(() => undefined);
              if (r && r.ms < best.ms) best = { ms: r.ms, tile, partitionSize };
            }
          }
          row.best = { ...best, gbps: kvBytes / best.ms / 1e6 };
        }
        rows.push(row);
        const b = row.best ? `  best ${row.best.gbps!.toFixed(0)} GB/s ${JSON.stringify(row.best.tile)} p${row.best.partitionSize}` : '';
        console.log(`decode batch ${batch} ctx ${context}: ${t.ms.toFixed(4)} ms, ${row.gbps!.toFixed(1)} GB/s  ${JSON.stringify(t.plan)}${b}`);
      } catch (e) {
        rows.push({ ...base, ms: NaN, skipped: `error: ${(e as Error).message}` });
        console.log(`decode batch ${batch} ctx ${context}: ERROR ${(e as Error).message}`);
      }
    }
  }
  const prefillCases: [number, number][] = [...prompts.map((p) => [1, p] as [number, number]), ...(quick ? [] : [[4, 1024] as [number, number]])];
  for (const [batch, promptLen] of prefillCases) {
    const base = { kind: 'prefill' as const, batch, context: promptLen, queryLen: promptLen };
    // causal: query i attends i + 1 keys; 2 flops per multiply-add, QK and PV
    const flops = batch * 4 * d.headDim * d.numHeads * ((promptLen * (promptLen + 1)) / 2);
    const seqs = Array.from({ length: batch }, () => ({ queryLen: promptLen, seqLen: promptLen }));
    const n = Math.max(2, Math.min(iters, Math.ceil(2e12 / flops)));
    try {
      const t = await timeStep(ctx, timer, d, seqs, 1, n, {}, { enabled: false });
      const row: Row = { ...base, ms: t.ms, tflops: flops / t.ms / 1e9, plan: t.plan, configs: t.configs.prefill };
      if (args.tune) {
        let best = { ms: t.ms, tile: t.configs.prefill, partitionSize: 0 };
        for (const tile of space) {
          const r = await timeStep(ctx, timer, d, seqs, 1, n, { prefill: tile }, { enabled: false }).catch(() => undefined);
          if (r && r.ms < best.ms) best = { ms: r.ms, tile, partitionSize: 0 };
        }
        row.best = { ...best, tflops: flops / best.ms / 1e9 };
      }
      rows.push(row);
      const b = row.best ? `  best ${row.best.tflops!.toFixed(2)} TFLOP/s ${JSON.stringify(row.best.tile)}` : '';
      console.log(`prefill ${batch} x ${promptLen}: ${t.ms.toFixed(4)} ms, ${row.tflops!.toFixed(3)} TFLOP/s  ${JSON.stringify(t.configs.prefill)}${b}`);
    } catch (e) {
      rows.push({ ...base, ms: NaN, skipped: `error: ${(e as Error).message}` });
      console.log(`prefill ${batch} x ${promptLen}: ERROR ${(e as Error).message}`);
    }
  }
  timer.destroy();
  const out = args.out ?? `bench/results/attention-${(dev.device || dev.architecture).replace(/[^\w.-]+/g, '_')}${quick ? '-quick' : ''}.json`;
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, JSON.stringify(report, null, 1));
  console.log(`wrote ${out}`);
  ctx.destroy();
}

await main();
