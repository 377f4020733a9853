/**
 * Matmul benchmark: GB/s of the decode path (M = 1) and TFLOP/s of the prefill paths
 * (M = 512..4096) for the weight shapes of Llama-3.1-8B, Qwen2.5-0.5B and SmolLM2-135M, in
 * every weight format, on the adapter it finds. Checks the kernels against the CPU reference
 * first (llm.c's habit: correct, then fast). See bench/README.md for how to run it.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import type { ActDType } from '../src/core/dtype.js';
import { acquireGpu } from '../src/gpu/acquire.js';
import type { GpuContext } from '../src/gpu/context.js';
import { createBuffer } from '../src/gpu/buffers.js';
import { GpuTimer } from '../src/gpu/timer.js';
import { conformanceCases, runConformance, summarize } from '../src/kernels/conformance.js';
import { KernelDispatch } from '../src/kernels/launch.js';
import {
  MATMUL_SPECS,
  MATMUL_WEIGHT_FORMATS,
  weightByteSize,
  type MatmulPath,
  type MatmulShape,
  type MatmulWeightFormat,
} from '../src/kernels/matmul.js';
import type { AnyKernelSpec } from '../src/kernels/spec.js';
import { createNodePlatform } from '../src/platform/node/index.js';
import { checkEveryConfig } from './matmul-check.js';
import { uploadActivations, uploadWeights } from './matmul-setup.js';

/** [name, N, K] per model: q (= o), k/v, gate (= up), down, lm_head. */
const MODELS: Record<string, [string, number, number][]> = {
  'llama-3.1-8b': [['q_proj', 4096, 4096], ['k_proj', 1024, 4096], ['gate_proj', 14336, 4096], ['down_proj', 4096, 14336], ['lm_head', 128256, 4096]],
  'qwen2.5-0.5b': [['q_proj', 896, 896], ['k_proj', 128, 896], ['gate_proj', 4864, 896], ['down_proj', 896, 4864], ['lm_head', 151936, 896]],
  'smollm2-135m': [['q_proj', 576, 576], ['k_proj', 192, 576], ['gate_proj', 1536, 576], ['down_proj', 576, 1536], ['lm_head', 49152, 576]],
  // --quick: tiny shapes that run in seconds on SwiftShader
  tiny: [['q_proj', 64, 256], ['down_proj', 40, 512], ['lm_head', 300, 256]],
};

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    models: { type: 'string' },
    shapes: { type: 'string' }, // only these weights, e.g. q_proj,lm_head
    formats: { type: 'string' },
    paths: { type: 'string' },
    act: { type: 'string' },
    m: { type: 'string' },
    iters: { type: 'string' },
    check: { type: 'string', default: 'on' }, // on | off | configs (also every config of every space)
    tune: { type: 'string', default: '0' }, // time up to N configs of the space per case, report the best
    l2: { type: 'string' }, // MiB of weight copies a decode timing rotates over (defeats the L2 cache)
    out: { type: 'string' },
  },
});

const list = (s: string | undefined, all: readonly string[]): string[] => (s ? s.split(',').map((x) => x.trim()) : [...all]);

interface Row {
  model: string;
  name: string;
  N: number;
  K: number;
  format: MatmulWeightFormat;
  act: ActDType;
  path: MatmulPath;
  M: number;
  config: unknown;
  ms: number;
  gbps?: number;
  tflops?: number;
  best?: { config: unknown; ms: number; gbps?: number; tflops?: number };
  skipped?: string;
}

async function timeDispatches(timer: GpuTimer, kds: KernelDispatch<MatmulShape, unknown>[], iters: number): Promise<number> {
  let i = 0;
  const record = (pass: GPUComputePassEncoder) => kds[i++ % kds.length]!.encode(pass);
  await timer.time(record, Math.min(iters, kds.length)); // warm-up (and first-use costs)
  const runs: number[] = [];
  for (let r = 0; r < 3; r++) runs.push(await timer.time(record, iters));
  return runs.sort((a, b) => a - b)[1]!;
}

async function benchCase(
  ctx: GpuContext,
  timer: GpuTimer,
  spec: AnyKernelSpec,
  shape: MatmulShape,
  w: { buffer: GPUBuffer; stride: number; bytes: number; copies: number },
  x: GPUBuffer,
  y: GPUBuffer,
  config: unknown,
  iters: number,
): Promise<number> {
  const kds: KernelDispatch<MatmulShape, unknown>[] = [];
  try {
    for (let c = 0; c < w.copies; c++) {
      kds.push(await KernelDispatch.create(ctx, spec, shape, config, { x, y, w: { buffer: w.buffer, offset: c * w.stride, size: Math.ceil(w.bytes / 4) * 4 } }));
    }
    return await timeDispatches(timer, kds, iters);
  } finally {
    for (const kd of kds) kd.destroy();
  }
}

async function main(): Promise<void> {
  const ctx = await acquireGpu(createNodePlatform());
  const dev = ctx.info;
  console.log(`adapter: ${dev.vendor} ${dev.architecture} ${dev.device} (${dev.description}); f16 ${dev.features.f16}, subgroups ${dev.features.subgroups}, subgroup-matrix ${dev.features.subgroupMatrix}, timestamps ${dev.features.timestampQuery}`);
  const quick = args.quick ?? false;
  const models = list(args.models, quick ? ['tiny'] : ['llama-3.1-8b', 'qwen2.5-0.5b', 'smollm2-135m']);
  const formats = list(args.formats, MATMUL_WEIGHT_FORMATS) as MatmulWeightFormat[];
  const paths = list(args.paths, ['gemv', 'gemm', 'tensor']) as MatmulPath[];
  const acts = list(args.act, dev.features.f16 ? ['f16'] : ['f32']) as ActDType[];
  const prefillMs = list(args.m, quick ? ['32'] : ['512', '4096']).map(Number);
  const iters = Number(args.iters ?? (quick ? 2 : 20));
  const tune = Number(args.tune ?? 0);
  const rotateBytes = Number(args.l2 ?? (quick ? 0 : 256)) * 2 ** 20;
  const report: Record<string, unknown> = { date: new Date().toISOString(), adapter: dev, args, check: undefined, results: [] };

  if (args.check !== 'off') {
    const cases = conformanceCases(dev, { acts: ['f32', 'f16'], randomShapes: quick ? 1 : 3, sweepConfigs: !quick, filter: (id) => id.startsWith('matmul.') });
    const results = await runConformance(ctx, cases);
    const failed = results.filter((r) => !r.passed);
    console.log(`check: ${results.length} cases, ${failed.length} failed`);
    for (const row of summarize(results)) console.log(`  ${row.kernel} ${row.act}: ${row.passed} passed, ${row.failed} failed, ${row.skipped} skipped, max |err| ${row.maxAbsErr.toExponential(2)}`);
    for (const f of failed.slice(0, 20)) console.log(`  FAIL ${f.case.kernel} ${f.case.act} ${f.case.label}: ${f.error}`);
    const every = args.check === 'configs' ? await checkEveryConfig(ctx) : undefined;
    report.check = { cases: results.length, failed: failed.map((f) => ({ kernel: f.case.kernel, act: f.case.act, label: f.case.label, error: f.error })), summary: summarize(results), everyConfig: every };
  }

  const timer = new GpuTimer(ctx);
  const rows: Row[] = report.results as Row[];
  for (const model of models) {
    for (const [name, N, K] of MODELS[model] ?? []) {
      if (args.shapes && !args.shapes.split(',').includes(name)) continue;
      for (const format of formats) {
        for (const act of acts) {
          const elem = act === 'f16' ? 2 : 4;
          for (const path of paths) {
            const spec = MATMUL_SPECS[path] as AnyKernelSpec;
            const Ms = path === 'gemv' ? [1] : prefillMs;
            for (const M of Ms) {
              const shape: MatmulShape = { act, weight: format, M, N, K, bias: false };
              const base = { model, name, N, K, format, act, path, M };
              const reasons = spec.supports(shape, dev) as string[];
              if (reasons.length) {
                rows.push({ ...base, config: null, ms: NaN, skipped: reasons.join('; ') });
                console.log(`${model} ${name} ${N}x${K} ${format} ${act} ${path} M=${M}: skipped (${reasons.join('; ')})`);
                continue;
              }
              // Decode: rotate over enough copies of W (>= 256 MiB) that it streams from DRAM.
              const one = weightByteSize(format, N, K);
              const copies = path === 'gemv' ? Math.max(1, Math.min(256, Math.ceil(rotateBytes / one))) : 1;
              const w = { ...uploadWeights(ctx, format, N, K, copies), copies };
              const x = uploadActivations(ctx, act, M, K, 1);
              const y = createBuffer(ctx, M * N * elem, 'bench:y');
              const flops = 2 * M * N * K;
              const moved = one + M * K * elem + M * N * elem;
              const stats = (ms: number) => (path === 'gemv' ? { gbps: moved / ms / 1e6 } : { tflops: flops / ms / 1e9 });
              try {
                const config = spec.defaultConfig(shape, dev);
                const n = path === 'gemv' ? (quick ? iters : Math.max(iters, 50)) : Math.max(2, Math.min(iters, Math.ceil(2e12 / flops)));
                const ms = await benchCase(ctx, timer, spec, shape, w, x, y, config, n);
                const row: Row = { ...base, config, ms, ...stats(ms) };
                if (tune > 0) {
                  let best = { config, ms };
                  for (const cfg of (spec.space(shape, dev) as unknown[]).slice(0, tune)) {
                    const t = await benchCase(ctx, timer, spec, shape, w, x, y, cfg, n).catch(() => Infinity);
                    if (t < best.ms) best = { config: cfg, ms: t };
                  }
                  row.best = { ...best, ...stats(best.ms) };
                }
                rows.push(row);
                const s = row.gbps !== undefined ? `${row.gbps.toFixed(1)} GB/s` : `${row.tflops!.toFixed(2)} TFLOP/s`;
                const b = row.best ? `  (best of space: ${row.best.ms.toFixed(4)} ms ${JSON.stringify(row.best.config)})` : '';
                console.log(`${model} ${name} ${N}x${K} ${format} ${act} ${path} M=${M}: ${ms.toFixed(4)} ms, ${s}  ${JSON.stringify(config)}${b}`);
              } catch (e) {
                rows.push({ ...base, config: null, ms: NaN, skipped: `error: ${(e as Error).message}` });
                console.log(`${model} ${name} ${format} ${path} M=${M}: ERROR ${(e as Error).message}`);
              } finally {
                w.buffer.destroy();
                x.destroy();
                y.destroy();
              }
            }
          }
        }
      }
    }
  }
  timer.destroy();
  const out = args.out ?? `bench/results/matmul-${(dev.device || dev.architecture).replace(/[^\w.-]+/g, '_')}${quick ? '-quick' : ''}.json`;
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, JSON.stringify(report, null, 1));
  console.log(`wrote ${out}`);
  ctx.destroy();
}

await main();
