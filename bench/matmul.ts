/**
 * Matmul benchmark: GB/s of the decode path (M = 1) and TFLOP/s of the prefill paths
 * (M = 512..4096) for the weight shapes of Llama-3.1-8B, Qwen2.5-0.5B and SmolLM2-135M, in
 * every weight format, on the adapter it finds. Checks the kernels against the CPU reference
 * first (llm.c's habit: correct, then fast). On a machine whose python3 has torch (CUDA), the same
 * shapes also run through torch.matmul (bf16) and a device copy in the same run
 * (bench/torch-baseline.py), so each row carries a ratio and `targets` checks issue #3's goals.
 * See bench/README.md for how to run it and read the ratios.
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
  createQuantizedX,
  matmulGemvInt8PreSpec,
  matmulGemvSpec,
  matmulQuantizeXSpec,
  decodeMatmulSpec,
  weightByteSize,
  type MatmulPath,
  type MatmulShape,
  type MatmulWeightFormat,
} from '../src/kernels/matmul.js';
import type { AnyKernelSpec } from '../src/kernels/spec.js';
import { createNodePlatform } from '../src/platform/node/index.js';
import { checkEveryConfig } from './matmul-check.js';
import { uploadActivations, uploadWeights } from './matmul-setup.js';
import { steadyTime } from './steady.js';
import { r4, sameRunBaselines, warmUp } from './torch-runner.js';

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
    check: { type: 'string', default: 'on' }, // on | defaults (no config sweep) | off | configs (also every config of every space)
    'check-kernels': { type: 'string' }, // only these conformance kernels (ids, comma-separated; default every matmul.*)
    tune: { type: 'string', default: '0' }, // time up to N configs of the space per case, report the best
    'tune-where': { type: 'string' }, // JSON object: tune only configs whose fields equal these, e.g. '{"mma":[16,16,16]}'
    l2: { type: 'string' }, // MiB of weight copies a decode timing rotates over (defeats the L2 cache)
    out: { type: 'string' },
    torch: { type: 'string', default: 'auto' }, // auto (python3 if it imports torch) | off | an interpreter
    'copy-mib': { type: 'string' }, // MiB of the WGSL copy (0: none)
  },
});

/**
 * 'gemv' times what the engine runs for one row of x (decodeMatmulSpec: for Q4_0/Q8_0 on the f16
 * path, x's int8 quantizer then the int8-dot GEMV, both in the time); 'gemv-split' the general
 * GEMV on the same shapes, to compare.
 */
type BenchPath = MatmulPath | 'gemv-split';
const isGemv = (p: BenchPath) => p === 'gemv' || p === 'gemv-split';

const list = (s: string | undefined, all: readonly string[]): string[] => (s ? s.split(',').map((x) => x.trim()) : [...all]);

interface Row {
  model: string;
  name: string;
  N: number;
  K: number;
  format: MatmulWeightFormat;
  act: ActDType;
  path: BenchPath;
  M: number;
  /** the kernel timed (gemv: the one the engine takes for one row of x) */
  kernel?: string;
  config: unknown;
  ms: number;
  gbps?: number;
  tflops?: number;
  best?: { config: unknown; ms: number; gbps?: number; tflops?: number };
  skipped?: string;
  /** torch.matmul (bf16) on the same M, N, K in the same run */
  torch?: { ms: number; tflops: number; gbps: number; dtype: string; copies: number } | { error: string };
  /** torch ms / our ms: > 1 means ours is faster on this shape (= TFLOP/s ratio for prefill) */
  vsTorch?: number;
  /** decode: our GB/s over the torch copy's read+write GB/s of this run (issue #3's metric) */
  vsCopy?: number;
  /** decode: our GB/s over our own WGSL copy's read+write GB/s */
  vsWgslCopy?: number;
}

interface Target {
  issue: number;
  target: string;
  /** what `measured` is: the worst case over `cases`, each in the same unit */
  metric: string;
  threshold: number;
  measured: number | null;
  pass: boolean | null;
  cases: Record<string, unknown>[];
  note?: string;
}

function target(issue: number, targetText: string, metric: string, threshold: number, cases: Record<string, unknown>[], values: number[], note?: string): Target {
  const measured = values.length ? r4(Math.min(...values)) : null;
  return { issue, target: targetText, metric, threshold, measured, pass: measured === null ? null : measured >= threshold, cases, ...(note ? { note } : {}) };
}

async function timeDispatches(timer: GpuTimer, kds: KernelDispatch<MatmulShape, unknown>[], quick: boolean): Promise<number> {
  let i = 0;
  const record = (pass: GPUComputePassEncoder) => kds[i++ % kds.length]!.encode(pass);
  return (await steadyTime(timer, record, { quick, minIters: kds.length })).ms;
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
  quick: boolean,
): Promise<number> {
  const kds: KernelDispatch<MatmulShape, unknown>[] = [];
  const scratch: GPUBuffer[] = [];
  try {
    // Over pre-quantized x, each GEMV is timed with its quantizer in front, as the engine runs it.
    let bufs: Record<string, GPUBuffer> = { x };
    let quantizer: KernelDispatch<MatmulShape, unknown> | undefined;
    if (spec === matmulGemvInt8PreSpec) {
      const { xq, xs } = createQuantizedX(ctx, shape, 'bench');
      scratch.push(xq, xs);
      bufs = { xq, xs };
      quantizer = await KernelDispatch.create(ctx, matmulQuantizeXSpec, shape, matmulQuantizeXSpec.defaultConfig(shape, ctx.info), { x, xq, xs });
    }
    for (let c = 0; c < w.copies; c++) {
      if (quantizer) kds.push(quantizer);
      kds.push(await KernelDispatch.create(ctx, spec, shape, config, { ...bufs, y, w: { buffer: w.buffer, offset: c * w.stride, size: Math.ceil(w.bytes / 4) * 4 } }));
    }
    // timeDispatches gives the time per dispatch: a quantizer + GEMV pair is two of them.
    return (await timeDispatches(timer, kds, quick)) * (quantizer ? 2 : 1);
  } finally {
    for (const kd of new Set(kds)) kd.destroy();
    for (const b of scratch) b.destroy();
  }
}

/** --tune-where: a config is tuned when each listed field equals the given value. */
const TUNE_WHERE = Object.entries(args['tune-where'] ? (JSON.parse(args['tune-where']) as Record<string, unknown>) : {});
function tuneWhere(cfg: Record<string, unknown>): boolean {
  return TUNE_WHERE.every(([k, v]) => JSON.stringify(cfg[k]) === JSON.stringify(v));
}

async function main(): Promise<void> {
  const ctx = await acquireGpu(createNodePlatform());
  const dev = ctx.info;
  console.log(`adapter: ${dev.vendor} ${dev.architecture} ${dev.device} (${dev.description}); f16 ${dev.features.f16}, subgroups ${dev.features.subgroups}, subgroup-matrix ${dev.features.subgroupMatrix}, timestamps ${dev.features.timestampQuery}`);
  const quick = args.quick ?? false;
  const models = list(args.models, quick ? ['tiny'] : ['llama-3.1-8b', 'qwen2.5-0.5b', 'smollm2-135m']);
  const formats = list(args.formats, MATMUL_WEIGHT_FORMATS) as MatmulWeightFormat[];
  const paths = list(args.paths, ['gemv', 'gemm', 'tensor']) as BenchPath[];
  const acts = list(args.act, dev.features.f16 ? ['f16'] : ['f32']) as ActDType[];
  const prefillMs = list(args.m, quick ? ['32'] : ['512', '4096']).map(Number);
  const tune = Number(args.tune ?? 0);
  const rotateBytes = Number(args.l2 ?? (quick ? 0 : 256)) * 2 ** 20;
  const report: Record<string, unknown> = { date: new Date().toISOString(), adapter: dev, args, check: undefined, results: [] };
  const t0 = performance.now();

  if (args.check !== 'off') {
    const cases = conformanceCases(dev, { acts: ['f32', 'f16'], randomShapes: quick ? 1 : 3, sweepConfigs: !quick && args.check !== 'defaults', filter: (id) => (args['check-kernels'] ? args['check-kernels'].split(',').includes(id) : id.startsWith('matmul.')) });
    const results = await runConformance(ctx, cases);
    const failed = results.filter((r) => !r.passed);
    console.log(`check: ${results.length} cases, ${failed.length} failed`);
    for (const row of summarize(results)) console.log(`  ${row.kernel} ${row.act}: ${row.passed} passed, ${row.failed} failed, ${row.skipped} skipped, max |err| ${row.maxAbsErr.toExponential(2)}`);
    for (const f of failed.slice(0, 20)) console.log(`  FAIL ${f.case.kernel} ${f.case.act} ${f.case.label}: ${f.error}`);
    const every = args.check === 'configs' ? await checkEveryConfig(ctx) : undefined;
    report.check = { cases: results.length, failed: failed.map((f) => ({ kernel: f.case.kernel, act: f.case.act, label: f.case.label, error: f.error })), summary: summarize(results), everyConfig: every };
  }

  const warm = await warmUp(ctx, quick);
  if (warm) console.log(`warm-up: WGSL copy at ${warm.readWriteGBps.toFixed(0)} GB/s read+write`);
  const timer = new GpuTimer(ctx);
  const rows: Row[] = report.results as Row[];
  for (const model of models) {
    for (const [name, N, K] of MODELS[model] ?? []) {
      if (args.shapes && !args.shapes.split(',').includes(name)) continue;
      for (const format of formats) {
        for (const act of acts) {
          const elem = act === 'f16' ? 2 : 4;
          for (const path of paths) {
            const Ms = isGemv(path) ? [1] : prefillMs;
            for (const M of Ms) {
              const shape: MatmulShape = { act, weight: format, M, N, K, bias: false };
              const spec = (path === 'gemv' ? decodeMatmulSpec(shape, dev) : path === 'gemv-split' ? matmulGemvSpec : MATMUL_SPECS[path]) as AnyKernelSpec;
              const base = { model, name, N, K, format, act, path, M, kernel: spec.id };
              const reasons = spec.supports(shape, dev) as string[];
              if (reasons.length) {
                rows.push({ ...base, config: null, ms: NaN, skipped: reasons.join('; ') });
                console.log(`${model} ${name} ${N}x${K} ${format} ${act} ${path} M=${M}: skipped (${reasons.join('; ')})`);
                continue;
              }
              // Decode: rotate over enough copies of W (>= 256 MiB) that it streams from DRAM.
              const one = weightByteSize(format, N, K);
              const copies = isGemv(path) ? Math.max(1, Math.min(256, Math.ceil(rotateBytes / one))) : 1;
              const w = { ...uploadWeights(ctx, format, N, K, copies), copies };
              const x = uploadActivations(ctx, act, M, K, 1);
              const y = createBuffer(ctx, M * N * elem, 'bench:y');
              const flops = 2 * M * N * K;
              const moved = one + M * K * elem + M * N * elem;
              const stats = (ms: number) => (isGemv(path) ? { gbps: moved / ms / 1e6 } : { tflops: flops / ms / 1e9 });
              try {
                const config = spec.defaultConfig(shape, dev);
                const ms = await benchCase(ctx, timer, spec, shape, w, x, y, config, quick);
                const row: Row = { ...base, config, ms, ...stats(ms) };
                if (tune > 0) {
                  let best = { config, ms };
                  for (const cfg of (spec.space(shape, dev) as Record<string, unknown>[]).filter(tuneWhere).slice(0, tune)) {
                    const t = await benchCase(ctx, timer, spec, shape, w, x, y, cfg, quick).catch(() => Infinity);
                    console.log(`  tuned ${name} ${format} M=${M}: ${t.toFixed(4)} ms ${JSON.stringify(cfg)}`);
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
  report.benchS = r4((performance.now() - t0) / 1e3);

  const cases = new Map<string, object>();
  for (const r of rows) {
    if (r.skipped) continue;
    // Decode rotates torch's W over the same >= --l2 MiB of copies as ours, so it streams from DRAM too.
    const id = `matmul:${r.M}x${r.N}x${r.K}`;
    cases.set(id, { id, op: 'matmul', M: r.M, N: r.N, K: r.K, dtype: 'bf16', rotateBytes: isGemv(r.path) ? rotateBytes : 0 });
  }
  const base = await sameRunBaselines(ctx, {
    quick,
    copyMiB: Number(args['copy-mib'] ?? (quick ? 16 : 1024)),
    torch: args.torch ?? 'auto',
    cases: [...cases.values()],
    warm,
    convention: 'readWriteGBps = 2 * bytes / time (each byte read once and written once); decode GB/s counts W + x + y bytes, so they divide',
  });
  const { byId, torchCopy, wgslCopy, copyRef } = base;
  // Issue #3's decode metric is relative to the torch copy; without torch, our own copy stands in (and says so).
  const copyRefName = torchCopy ? 'torch copy (read + write GB/s)' : wgslCopy ? 'WGSL copy (read + write GB/s): torch did not run' : 'none';
  report.copy = base.copyReport;
  report.torch = base.torchReport;
  for (const r of rows) {
    if (r.skipped) continue;
    const t = byId.get(`matmul:${r.M}x${r.N}x${r.K}`);
    if (t?.ms !== undefined) {
      r.torch = { ms: t.ms, tflops: t.tflops!, gbps: t.gbps!, dtype: 'bf16', copies: t.copies as number };
      r.vsTorch = r4(t.ms / r.ms);
    } else if (t?.error) r.torch = { error: t.error };
    Object.assign(r, base.copyRatios(r.gbps));
    if (r.torch || r.vsWgslCopy !== undefined) {
      const ours = r.gbps !== undefined ? `${r.gbps.toFixed(0)} GB/s` : `${r.tflops!.toFixed(2)} TFLOP/s`;
      const theirs = r.torch && 'ms' in r.torch ? (r.gbps !== undefined ? `${r.torch.gbps.toFixed(0)} GB/s` : `${r.torch.tflops.toFixed(1)} TFLOP/s`) : '-';
      const copy = r.vsCopy !== undefined ? `, ${(100 * r.vsCopy).toFixed(1)}% of torch copy` : r.vsWgslCopy !== undefined ? `, ${(100 * r.vsWgslCopy).toFixed(1)}% of WGSL copy` : '';
      console.log(`  ${r.model} ${r.name} ${r.format} ${r.path} M=${r.M}: ours ${ours}, torch bf16 ${theirs}, torch/ours time ${r.vsTorch ?? '-'}${copy}`);
    }
  }

  // Issue #3's targets, on the Llama-3.1-8B shapes.
  const llama = rows.filter((r) => r.model === 'llama-3.1-8b' && !r.skipped && Number.isFinite(r.ms));
  const targets: Target[] = [];
  for (const fmt of ['q4_0', 'q8_0'] as const) {
    const rs = llama.filter((r) => r.path === 'gemv' && r.format === fmt);
    const frac = rs.map((r) => (copyRef ? r.gbps! / copyRef : NaN)).filter(Number.isFinite);
    // A decode step streams every weight once: the whole set's bytes over its summed time.
    const agg = copyRef && rs.length ? rs.reduce((a, r) => a + r.gbps! * r.ms, 0) / rs.reduce((a, r) => a + r.ms, 0) / copyRef : null;
    targets.push(
      target(3, `decode GEMV over ${fmt.toUpperCase()} at the Llama-3.1-8B shapes >= 80% of the copy bandwidth measured in the same run`, `worst shape's GB/s / ${copyRefName}`, 0.8,
        rs.map((r, i) => ({ name: r.name, N: r.N, K: r.K, gbps: r4(r.gbps!), fraction: frac[i] !== undefined ? r4(frac[i]!) : null })), frac,
        agg === null ? undefined : `all five shapes together (bytes / summed time): ${r4(agg)} of the copy`),
    );
  }
  const tensorRows = llama.filter((r) => r.path === 'tensor' && r.format === 'f16' && r.M >= 512);
  targets.push(
    target(3, 'prefill GEMM f16 at M=512..4096 with subgroup-matrix >= 40% of torch bf16 matmul in the same run', "worst shape's TFLOP/s / torch.matmul bf16 TFLOP/s (vsTorch)", 0.4,
      tensorRows.map((r) => ({ name: r.name, M: r.M, N: r.N, K: r.K, tflops: r4(r.tflops!), torchTflops: r.torch && 'tflops' in r.torch ? r4(r.torch.tflops) : null, vsTorch: r.vsTorch ?? null })),
      tensorRows.map((r) => r.vsTorch).filter((v): v is number => v !== undefined),
      dev.features.subgroupMatrix ? undefined : 'the adapter has no subgroup-matrix'),
  );
  const gemmRows = llama.filter((r) => r.path === 'gemm' && r.format === 'f16' && r.M >= 512);
  targets.push(
    target(3, 'prefill GEMM f16 at M=512..4096 without subgroup-matrix >= 25 TFLOP/s', "worst shape's TFLOP/s", 25,
      gemmRows.map((r) => ({ name: r.name, M: r.M, N: r.N, K: r.K, tflops: r4(r.tflops!), vsTorch: r.vsTorch ?? null })),
      gemmRows.map((r) => r.tflops!)),
  );
  report.targets = targets;
  for (const t of targets) {
    const verdict = t.pass === null ? 'not measured' : t.pass ? 'PASS' : 'FAIL';
    console.log(`target #${t.issue}: ${t.target}: ${t.measured ?? '-'} (${t.metric}) -> ${verdict}${t.note ? `; ${t.note}` : ''}`);
  }
  const out = args.out ?? `bench/results/matmul-${(dev.device || dev.architecture).replace(/[^\w.-]+/g, '_')}${quick ? '-quick' : ''}.json`;
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, JSON.stringify(report, null, 1));
  console.log(`wrote ${out}`);
  ctx.destroy();
}

await main();
