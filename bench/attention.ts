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
 * 512,2048,8192, --check on|quick|off, --tune (decode: split partitions 0|64|128|256|512|1024|2048,
 * with every decode tile where the tiled kernel runs decodes; prefill: every tile of the space),
 * --torch auto|off|PYTHON (torch SDPA and a
 * device copy on the same shapes in the same run, bench/torch-baseline.py), --copy-mib N (WGSL
 * copy; 0: none), --out FILE. Besides the grid, decode at batch 32 x context 4096 (issue #4's
 * target) always runs unless --quick.
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
import { attentionTensorSpec, type AttentionTensorConfig } from '../src/kernels/attention-tensor.js';
import { PagedKVCache } from '../src/attention/paged-kv-cache.js';
import { WgslAttentionBackend, fusedQkvViews, type WgslAttentionConfigs } from '../src/attention/wgsl-backend.js';
import type { SplitPolicy } from '../src/attention/split-plan.js';
import type { StepSeq } from '../src/attention/types.js';
import { attentionSpace, KV_BYTES, type KvDType, type PagedAttentionConfig } from '../src/kernels/attention-shape.js';
import { createNodePlatform } from '../src/platform/node/index.js';
import { checkAttention } from './attention-check.js';
import { steadyTime } from './steady.js';
import { r4, sameRunBaselines, warmUp } from './torch-runner.js';

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
    check: { type: 'string', default: 'on' },
    tune: { type: 'boolean', default: false },
    out: { type: 'string' },
    torch: { type: 'string', default: 'auto' }, // auto (python3 if it imports torch) | off | an interpreter
    'copy-mib': { type: 'string' },
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
  best?: { ms: number; gbps?: number; tflops?: number; tile: PagedAttentionConfig | AttentionTensorConfig; partitionSize: number };
  skipped?: string;
  /** decode: copies of the KV the timing rotates over (torch gets as many) */
  kvCopies?: number;
  /** torch SDPA on the same shape in the same run (KV contiguous there, paged here) */
  torch?: { ms: number; gbps?: number; tflops?: number; backend: string; variant: string; kvLayout: string; tried: unknown } | { error: string };
  /** torch ms / our ms: > 1 means ours is faster (= GB/s or TFLOP/s ratio: same bytes and flops) */
  vsTorch?: number;
  /** decode: our KV GB/s over the torch copy's read+write GB/s of this run (issue #4's metric) */
  vsCopy?: number;
  /** decode: our KV GB/s over our own WGSL copy's read+write GB/s */
  vsWgslCopy?: number;
}

/** Times one step layout: rotates over `layers` caches so the KV streams from DRAM, not L2. */
async function timeStep(
  ctx: GpuContext,
  timer: GpuTimer,
  d: Dims,
  seqs: { queryLen: number; seqLen: number }[],
  layers: number,
  quick: boolean,
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
    const t = await steadyTime(timer, record, { quick, minIters: layers });
    return { ms: t.ms, plan: md.plan, configs: backend.configs };
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
  const report: Record<string, unknown> = { date: new Date().toISOString(), adapter: dev, dims: d, args, check: undefined, results: [] };
  const t0 = performance.now();
  if (args.check !== 'off') report.check = await checkAttention(ctx, quick || args.check === 'quick');

  const warm = await warmUp(ctx, quick);
  if (warm) console.log(`warm-up: WGSL copy at ${warm.readWriteGBps.toFixed(0)} GB/s read+write`);
  const timer = new GpuTimer(ctx);
  const rows = report.results as Row[];
  const kvTokenBytes = 2 * d.numKvHeads * d.headDim * KV_BYTES[d.kv]; // K + V of one token, one layer
  const maxBinding = Math.min(dev.limits.maxStorageBufferBindingSize, dev.limits.maxBufferSize);
  const space = attentionSpace(d, dev);
  const decodeCases = batches.flatMap((batch) => contexts.map((context) => [batch, context] as const));
  // Issue #4's target shape, whatever the grid.
  if (!quick && !decodeCases.some(([b, c]) => b === 32 && c === 4096)) decodeCases.push([32, 4096]);
  for (const [batch, context] of decodeCases) {
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
      const t = await timeStep(ctx, timer, d, seqs, layers, quick, {}, {});
      const row: Row = { ...base, ms: t.ms, gbps: kvBytes / t.ms / 1e6, kvCopies: layers, plan: t.plan, configs: t.configs.split };
      if (args.tune) {
        let best = { ms: t.ms, tile: t.configs.decode, partitionSize: -1 };
        // The subgroup decode kernel has its own config (its default here); the tiled kernel's
        // decode tiles only matter where it runs instead.
        const tiles = t.configs.decodeVec ? [t.configs.decode] : space.filter((c) => c.tq === 1);
        for (const tile of tiles) {
          for (const partitionSize of [0, 16, 32, 64, 128, 256, 512, 1024, 2048]) {
            const split = partitionSize === 0 ? { enabled: false } : { partitionSize, targetWorkgroups: 1 << 20 };
            const r = await timeStep(ctx, timer, d, seqs, layers, quick, { decode: tile, split: tile }, split).catch(() => undefined);
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
  const prefillCases: [number, number][] = [...prompts.map((p) => [1, p] as [number, number]), ...(quick ? [] : [[4, 1024] as [number, number]])];
  for (const [batch, promptLen] of prefillCases) {
    const base = { kind: 'prefill' as const, batch, context: promptLen, queryLen: promptLen };
    // causal: query i attends i + 1 keys; 2 flops per multiply-add, QK and PV
    const flops = batch * 4 * d.headDim * d.numHeads * ((promptLen * (promptLen + 1)) / 2);
    const seqs = Array.from({ length: batch }, () => ({ queryLen: promptLen, seqLen: promptLen }));
    try {
      const t = await timeStep(ctx, timer, d, seqs, 1, quick, {}, { enabled: false });
      const row: Row = { ...base, ms: t.ms, tflops: flops / t.ms / 1e9, plan: t.plan, configs: t.configs.prefill };
      if (args.tune) {
        // the tensor-core kernel's space where the step runs it, else the tiled kernel's
        const tensor = (t.plan as { kernel?: string }).kernel === 'tensor';
        let best: NonNullable<Row['best']> = { ms: t.ms, tile: tensor ? t.configs.prefillTensor! : t.configs.prefill, partitionSize: 0 };
        const tiles = tensor ? attentionTensorSpec.space({ ...d, seqs, softcap: 0, slidingWindow: 0, fusedQkv: true }, dev) : space;
        for (const tile of tiles) {
          const cfg = tensor ? { prefillTensor: tile as AttentionTensorConfig } : { prefill: tile as PagedAttentionConfig };
          const r = await timeStep(ctx, timer, d, seqs, 1, quick, cfg, { enabled: false }).catch(() => undefined);
          if (tensor) console.log(`  prefill ${batch} x ${promptLen} ${JSON.stringify(tile)}: ${r ? r.ms.toFixed(4) : 'ERROR'} ms`);
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
  report.benchS = r4((performance.now() - t0) / 1e3);

  const heads = { numHeads: d.numHeads, numKvHeads: d.numKvHeads, headDim: d.headDim, dtype: d.kv };
  const caseId = (r: Row) => `${r.kind}:${r.batch}x${r.context}`;
  const cases: object[] = [];
  for (const r of rows) {
    if (r.skipped) continue;
    if (r.kind === 'decode') {
      // As many KV copies as our timing rotated over, so both read DRAM (or both hit L2) alike.
      const kvBytes = r.batch * r.context * kvTokenBytes;
      cases.push({ id: caseId(r), op: 'sdpa_decode', batch: r.batch, context: r.context, ...heads, rotateBytes: (r.kvCopies ?? 1) * kvBytes });
    } else {
      cases.push({ id: caseId(r), op: 'sdpa_prefill', batch: r.batch, queryLen: r.queryLen, ...heads });
    }
  }
  const base = await sameRunBaselines(ctx, {
    quick,
    copyMiB: Number(args['copy-mib'] ?? (quick ? 16 : 1024)),
    torch: args.torch ?? 'auto',
    cases,
    warm,
    convention: 'readWriteGBps = 2 * bytes / time (each byte read once and written once); decode GB/s counts the K + V bytes read, so they divide',
  });
  const { byId, torchCopy, wgslCopy, copyRef } = base;
  report.copy = base.copyReport;
  report.torch = base.torchReport;
  for (const r of rows) {
    if (r.skipped) continue;
    const t = byId.get(caseId(r));
    if (t?.ms !== undefined) {
      r.torch = { ms: t.ms, ...(t.gbps !== undefined ? { gbps: t.gbps } : {}), ...(t.tflops !== undefined ? { tflops: t.tflops } : {}),
        backend: t.backend as string, variant: t.variant as string, kvLayout: 'contiguous', tried: t.tried };
      r.vsTorch = r4(t.ms / r.ms);
    } else if (t?.error) r.torch = { error: t.error };
    Object.assign(r, base.copyRatios(r.gbps));
    if (r.torch || r.vsWgslCopy !== undefined) {
      const ours = r.gbps !== undefined ? `${r.gbps.toFixed(0)} GB/s` : `${r.tflops!.toFixed(2)} TFLOP/s`;
      const theirs = r.torch && 'ms' in r.torch ? (r.gbps !== undefined ? `${r.torch.gbps!.toFixed(0)} GB/s` : `${r.torch.tflops!.toFixed(1)} TFLOP/s`) + ` (${r.torch.backend}, ${r.torch.variant})` : '-';
      const copy = r.vsCopy !== undefined ? `, ${(100 * r.vsCopy).toFixed(1)}% of torch copy` : r.vsWgslCopy !== undefined ? `, ${(100 * r.vsWgslCopy).toFixed(1)}% of WGSL copy` : '';
      console.log(`  ${r.kind} ${r.batch} x ${r.context}: ours ${ours}, torch SDPA ${theirs}, torch/ours time ${r.vsTorch ?? '-'}${copy}`);
    }
  }

  // Issue #4's target; without torch our own copy stands in as the reference (and says so).
  const tr = rows.find((r) => r.kind === 'decode' && r.batch === 32 && r.context === 4096 && r.gbps !== undefined);
  const measured = tr && copyRef && d.kv === 'f16' ? r4(tr.gbps! / copyRef) : null;
  const sdpa = (kind: Row['kind']) => rows.filter((r) => r.kind === kind && r.vsTorch !== undefined).map((r) => ({ batch: r.batch, context: r.context, vsTorch: r.vsTorch }));
  report.targets = [
    {
      issue: 4,
      target: 'paged decode at batch 32, context 4096, f16 KV >= 60% of the copy bandwidth measured in the same run',
      metric: `KV GB/s / ${torchCopy ? 'torch copy' : wgslCopy ? 'WGSL copy (torch did not run)' : 'no copy'} read + write GB/s`,
      threshold: 0.6,
      measured,
      pass: measured === null ? null : measured >= 0.6,
      cases: tr ? [{ batch: 32, context: 4096, kv: d.kv, gbps: r4(tr.gbps!), torchSdpaGbps: tr.torch && 'gbps' in tr.torch ? r4(tr.torch.gbps!) : null, vsTorch: tr.vsTorch ?? null }] : [],
      ...(d.kv === 'f16' ? {} : { note: `KV is ${d.kv}: the target is for f16 KV` }),
    },
    {
      issue: 4,
      target: 'decode and prefill attention against torch scaled_dot_product_attention on the same shapes in the same run (no threshold)',
      metric: 'torch ms / our ms per shape (> 1: ours faster); torch reads a contiguous KV, ours a paged one',
      threshold: null,
      measured: null,
      pass: null,
      cases: [...sdpa('decode').map((c) => ({ kind: 'decode', ...c })), ...sdpa('prefill').map((c) => ({ kind: 'prefill', ...c }))],
    },
  ];
  for (const t of report.targets as { issue: number; target: string; metric: string; measured: number | null; pass: boolean | null; threshold: number | null }[]) {
    if (t.threshold === null) continue;
    console.log(`target #${t.issue}: ${t.target}: ${t.measured ?? '-'} (${t.metric}) -> ${t.pass === null ? 'not measured' : t.pass ? 'PASS' : 'FAIL'}`);
  }
  const out = args.out ?? `bench/results/attention-${(dev.device || dev.architecture).replace(/[^\w.-]+/g, '_')}${quick ? '-quick' : ''}.json`;
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, JSON.stringify(report, null, 1));
  console.log(`wrote ${out}`);
  ctx.destroy();
}

await main();
