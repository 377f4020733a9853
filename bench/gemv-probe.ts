/**
 * GEMV probe: GB/s of the decode path (matmul.gemv) for Q4_0/Q8_0 at Llama-3.1-8B's weight
 * shapes, M = 1 and 8, for the default config and a few others of the space, next to the copy
 * bandwidth of the same run. Checks each timed config against the CPU reference on one shape.
 *   node bench/build.mjs bench/gemv-probe.ts && node bench/dist/gemv-probe.js [--formats q4_0,q8_0]
 *     [--m 1,8] [--act f16,f32] [--shapes q_proj,...] [--kernel split|int8|int8-pre] [--quick] [--out file.json]
 *     [--only 'rb=4|8,wg=64' | --only default]
 * --kernel int8 times every config of matmul.gemv-int8's space (x quantized in the kernel)
 * instead; int8-pre those of matmul.gemv-int8-pre (x quantized beforehand: what the engine runs
 * for Q4_0/Q8_0/Q6_K on the f16 path, after matmul.quantize-x, whose time is not counted).
 * Formats: q4_0, q8_0, and for the int8 kernels q6_k (e.g. --formats q6_k --shapes lm_head).
 * --only keeps the default and the configs whose every named field has one of the listed values
 * (`default`: the default config alone), so that a device call times the few that matter.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import type { ActDType } from '../src/core/dtype.js';
import { acquireGpu } from '../src/gpu/acquire.js';
import { createBuffer } from '../src/gpu/buffers.js';
import { GpuTimer } from '../src/gpu/timer.js';
import { runConformanceCase } from '../src/kernels/conformance.js';
import { KernelDispatch } from '../src/kernels/launch.js';
import {
  createQuantizedX,
  matmulGemvInt8PreSpec,
  matmulGemvInt8Spec,
  matmulGemvSpec,
  weightByteSize,
  type MatmulGemvConfig,
  type MatmulShape,
  type MatmulWeightFormat,
} from '../src/kernels/matmul.js';
import { createNodePlatform } from '../src/platform/node/index.js';
import { copyBandwidth } from './engine-steps.js';
import { uploadActivations, uploadWeights } from './matmul-setup.js';
import { steadyTime } from './steady.js';

const { values: args } = parseArgs({
  options: {
    formats: { type: 'string', default: 'q4_0,q8_0' },
    m: { type: 'string', default: '1,8' },
    act: { type: 'string' },
    shapes: { type: 'string' },
    kernel: { type: 'string', default: 'split' },
    quick: { type: 'boolean', default: false },
    out: { type: 'string', default: 'bench/results/gemv-probe.json' },
    only: { type: 'string' },
  },
});

const SHAPES: [string, number, number][] = [
  ['q_proj', 4096, 4096],
  ['k_proj', 1024, 4096],
  ['gate_proj', 14336, 4096],
  ['down_proj', 4096, 14336],
  ['lm_head', 128256, 4096],
  // the engine's fused launches
  ['qkv', 6144, 4096],
  ['gate_up', 28672, 4096],
];

/** The config this file's kernels had as default before the 'pairs' kernel. */
function oldDefault(shape: MatmulShape): MatmulGemvConfig {
  return { mode: 'split', wg: 128, rows: shape.N >= 4096 ? 2 : 1, mb: Math.min(4, shape.M), ppt: 4, reduce: 'subgroup' };
}

/** Whether --only keeps cfg (the default is always kept). */
function kept(cfg: object, isDefault: boolean): boolean {
  if (!args.only || isDefault) return true;
  if (args.only === 'default') return false;
  return args.only.split(',').every((clause) => {
    const [key, values] = clause.split('=') as [string, string];
    return values.split('|').includes(String((cfg as Record<string, unknown>)[key]));
  });
}

function candidates(shape: MatmulShape, dflt: MatmulGemvConfig): MatmulGemvConfig[] {
  const out: MatmulGemvConfig[] = [dflt, oldDefault(shape)];
  const r = 'subgroup' as const;
  if (shape.M === 1) {
    for (const [rows, ppt, c] of [[16, 4, 32], [8, 4, 32], [32, 8, 32], [16, 2, 32], [16, 8, 32], [8, 2, 16], [32, 4, 16], [4, 4, 32]] as const) {
      out.push({ mode: 'pairs', wg: (c * rows) / ppt, rows, mb: 1, ppt, reduce: r });
    }
  } else {
    for (const [wg, rows, ppt] of [[128, 4, 1], [128, 8, 1], [256, 4, 1], [64, 4, 1], [128, 2, 1], [128, 4, 4], [128, 8, 2]] as const) {
      out.push({ mode: 'split', wg, rows, mb: 8, ppt, reduce: r });
    }
  }
  const key = (c: unknown) => JSON.stringify(c);
  return out.filter((c, i) => out.findIndex((d) => key(d) === key(c)) === i);
}

async function main(): Promise<void> {
  const ctx = await acquireGpu(createNodePlatform());
  const dev = ctx.info;
  console.log(`adapter: ${dev.vendor} ${dev.architecture} ${dev.device}; f16 ${dev.features.f16}, subgroups ${dev.features.subgroups}, wg mem ${dev.limits.maxComputeWorkgroupStorageSize}`);
  const bw = await copyBandwidth(ctx, (args.quick ? 64 : 1024) * 2 ** 20, 5);
  console.log(`copy: ${bw.copyGBps.toFixed(0)} GB/s copied, ${bw.readWriteGBps.toFixed(0)} GB/s read+write`);
  const acts = (args.act ?? (dev.features.f16 ? 'f16' : 'f32')).split(',') as ActDType[];
  const formats = args.formats!.split(',') as MatmulWeightFormat[];
  const Ms = args.m!.split(',').map(Number);
  const shapes = args.quick ? ([['tiny', 256, 512]] as [string, number, number][]) : SHAPES.filter(([n]) => !args.shapes || args.shapes.split(',').includes(n));
  const rows: unknown[] = [];
  const checks: unknown[] = [];
  const timer = new GpuTimer(ctx);
  const int8 = args.kernel === 'int8' || args.kernel === 'int8-pre';
  const pre = args.kernel === 'int8-pre';
  const spec = (pre ? matmulGemvInt8PreSpec : int8 ? matmulGemvInt8Spec : matmulGemvSpec) as never as typeof matmulGemvSpec;
  const cand = (shape: MatmulShape, dflt: MatmulGemvConfig): MatmulGemvConfig[] =>
    (int8 ? [dflt, ...(spec.space(shape, dev) as MatmulGemvConfig[]).filter((c) => JSON.stringify(c) !== JSON.stringify(dflt))] : candidates(shape, dflt)).filter((c) => kept(c, c === dflt));
  for (const act of acts) {
    for (const format of formats) {
      for (const M of Ms) {
        // correctness of every candidate on a small real-width shape first
        const check: MatmulShape = { act, weight: format, M, N: 300, K: 4096, bias: true };
        const cands = cand({ ...check, N: 4096 }, spec.defaultConfig({ ...check, N: 4096 }, dev));
        for (const cfg of cands) {
          const r = await runConformanceCase(ctx, { kernel: spec.id, act, label: 'probe', spec: spec as never, shape: check, config: cfg, seed: 5 });
          checks.push({ act, format, M, config: cfg, passed: r.passed, maxAbsErr: r.maxAbsErr, error: r.error });
          if (!r.passed) console.log(`CHECK FAIL ${act} ${format} M=${M} ${JSON.stringify(cfg)}: ${r.error}`);
        }
        for (const [name, N, K] of shapes) {
          const shape: MatmulShape = { act, weight: format, M, N, K, bias: false };
          const one = weightByteSize(format, N, K);
          const copies = Math.max(1, Math.min(64, Math.ceil((args.quick ? 0 : 512 * 2 ** 20) / one)));
          const w = uploadWeights(ctx, format, N, K, copies);
          const x = uploadActivations(ctx, act, M, K, 1);
          const y = createBuffer(ctx, M * N * (act === 'f16' ? 2 : 4), 'probe:y');
          // the pre GEMV's quantized x (zeros: the time does not depend on the values)
          const xq: Record<string, GPUBuffer> = pre ? createQuantizedX(ctx, shape, 'probe') : {};
          const dflt = spec.defaultConfig(shape, dev);
          for (const cfg of cand(shape, dflt)) {
            const kds: KernelDispatch<MatmulShape, unknown>[] = [];
            try {
              for (let c = 0; c < copies; c++) {
                kds.push(await KernelDispatch.create(ctx, spec as never, shape, cfg, { x, y, ...xq, w: { buffer: w.buffer, offset: c * w.stride, size: Math.ceil(w.bytes / 4) * 4 } }));
              }
              let i = 0;
              const record = (pass: GPUComputePassEncoder) => kds[i++ % kds.length]!.encode(pass);
              const t = (await steadyTime(timer, record, { quick: args.quick ?? false, minIters: kds.length })).ms;
              const gbps = one / t / 1e6;
              const row = { act, format, name, N, K, M, config: cfg, isDefault: cfg === dflt, ms: t, gbps, ofCopy: gbps / bw.readWriteGBps };
              rows.push(row);
              console.log(`${act} ${format} ${name} M=${M}: ${t.toFixed(4)} ms ${gbps.toFixed(0)} GB/s (${(100 * row.ofCopy).toFixed(0)}% of r+w copy)${cfg === dflt ? ' [default]' : ''} ${JSON.stringify(cfg)}`);
            } catch (e) {
              console.log(`${act} ${format} ${name} M=${M} ${JSON.stringify(cfg)}: ERROR ${(e as Error).message.slice(0, 300)}`);
            } finally {
              for (const kd of kds) kd.destroy();
            }
          }
          w.buffer.destroy();
          x.destroy();
          y.destroy();
          for (const b of Object.values(xq)) b.destroy();
        }
      }
    }
  }
  timer.destroy();
  await mkdir(dirname(args.out!), { recursive: true });
  await writeFile(args.out!, JSON.stringify({ adapter: dev, copy: bw, checks, rows }, null, 1));
  console.log(`wrote ${args.out}`);
  ctx.destroy();
}

await main();
