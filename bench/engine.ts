/**
 * End-to-end engine benchmark: decode and prefill speed through the engine, serving throughput
 * through its scheduler, host vs GPU time per decode step, GPU memory, and copy bandwidth (so
 * decode can be read as a fraction of the bandwidth roofline).
 *
 *   node bench/build.mjs bench/engine.ts
 *   node bench/dist/engine.js --model PATH [--act f16|f32] [--batches 1,8,32,64] [--gen 128]
 *     [--prompts 128,512,2048] [--concurrency 32] [--copy-mib 1024] [--profile 1,32] [--out FILE]
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { ActDType } from '../src/core/dtype.js';
import { createEngine, type WgllmEngine } from '../src/engine/create.js';
import { acquireGpu } from '../src/gpu/acquire.js';
import { GPUBufferUsageConst } from '../src/gpu/constants.js';
import type { GpuContext } from '../src/gpu/context.js';
import { openModelFiles } from '../src/model/open.js';
import { ModelRunner } from '../src/model/runner.js';
import { createNodePlatform, openLocalModel } from '../src/platform/node/index.js';
import { copyBandwidth, memoryReport, profileDecodeStep, profilePrefillStep, randomIds, timeDecodeSteps, type StepProfile, type StepTiming } from './engine-steps.js';
import { decodeSummary, itls, median, pcts, round } from './trace-stats.js';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string' },
    act: { type: 'string' },
    batches: { type: 'string', default: '1,8,32,64' },
    gen: { type: 'string', default: '128' },
    prompts: { type: 'string', default: '128,512,2048' },
    concurrency: { type: 'string', default: '32' },
    'decode-prompt': { type: 'string', default: '32' },
    'max-batched-tokens': { type: 'string', default: '512' },
    'kv-cache-mib': { type: 'string' },
    'copy-mib': { type: 'string', default: '1024' },
    'copy-iters': { type: 'string', default: '5' },
    'step-iters': { type: 'string', default: '30' },
    // KV length of each sequence in the runner's decode-step timing (default: --decode-prompt)
    'step-context': { type: 'string' },
    // batches whose decode step is split per kernel (bench/engine-steps.ts profileDecodeStep)
    profile: { type: 'string', default: '1,32' },
    // prompt lengths whose prefill step is split per kernel the same way (one chunk each)
    'profile-prefill': { type: 'string', default: '512' },
    skip: { type: 'string', default: '' },
    'fuse-quantize-x': { type: 'string' }, // off | norms | all: the step timing's runner (default: the runner's own)
    'fuse-rope': { type: 'string' }, // on | off: RoPE in the KV write, the step timing's runner (default: the runner's own)
    'tensor-attention': { type: 'string' }, // on | off: prompt chunks' attention on tensor cores, the step timing's runner
    'fuse-swiglu': { type: 'string' }, // on | off: SwiGLU in gate|up's tensor GEMM, the step timing's runner
    'prefill-dequant': { type: 'string' }, // on | off: prompt GEMMs over an f16 copy of W, the engine's and the step timing's runner
    // also write each decode run's inter-token latencies in arrival order (for stall patterns)
    'itl-series': { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});

const ints = (s: string) => s.split(',').filter(Boolean).map(Number);
const prefillDequant = args['prefill-dequant'] ? { prefillDequant: args['prefill-dequant'] === 'on' } : {};

interface Trace {
  /** performance.now() at submission */
  start: number;
  /** arrival time of each token (a tokens event may carry several) */
  tokenTimes: number[];
  ttftMs: number;
}

/** Runs the requests concurrently through the engine, greedy with ignoreEos, recording arrivals. */
async function runRequests(engine: WgllmEngine, prompts: number[][], maxTokens: number): Promise<{ traces: Trace[]; wallMs: number }> {
  const t0 = performance.now();
  const traces = await Promise.all(
    prompts.map(async (ids) => {
      const tr: Trace = { start: performance.now(), tokenTimes: [], ttftMs: NaN };
      for await (const ev of engine.generate(ids, { temperature: 0, maxTokens, ignoreEos: true })) {
        const now = performance.now();
        if (ev.type === 'tokens') for (let i = 0; i < ev.tokenIds.length; i++) tr.tokenTimes.push(now);
        else tr.ttftMs = ev.timings.ttftMs;
      }
      return tr;
    }),
  );
  return { traces, wallMs: performance.now() - t0 };
}

async function decodeBench(engine: WgllmEngine, batch: number, gen: number, promptLen: number, vocab: number) {
  const prompts = Array.from({ length: batch }, (_, i) => randomIds(promptLen, vocab, 1000 * batch + i));
  const { traces } = await runRequests(engine, prompts, gen);
  // Decode phase: from the moment every prompt has its first token (all prefilled) to the end.
  const tStart = Math.max(...traces.map((t) => t.tokenTimes[0] ?? Infinity));
  const series = args['itl-series'] ? { itlSeriesMs: itls(traces).map((x) => round(x, 2)) } : {};
  return { batch, gen, promptLen, ...decodeSummary(traces, tStart, batch), ...series };
}

/**
 * Host timeline of one request: when the engine submitted GPU work and when its readback mapped,
 * in ms after the request (queue.submit and GPUBuffer.mapAsync wrapped for the run): where the
 * time to first token goes besides the GPU's pass.
 */
interface HostTimeline {
  firstSubmitMs: number;
  lastSubmitMs: number;
  submits: number;
  mapCallMs: number;
  mapResolvedMs: number;
}

async function withHostTimeline<T>(gpu: GpuContext, run: () => Promise<T>): Promise<{ value: T; timeline: HostTimeline }> {
  const queue = gpu.queue;
  const submit = queue.submit.bind(queue);
  const probe = gpu.device.createBuffer({ size: 4, usage: GPUBufferUsageConst.MAP_READ | GPUBufferUsageConst.COPY_DST });
  const proto = Object.getPrototypeOf(probe) as GPUBuffer;
  probe.destroy();
  const mapAsync = proto.mapAsync;
  const submits: number[] = [];
  let mapCall = NaN;
  let mapResolved = NaN;
  queue.submit = (bufs: Iterable<GPUCommandBuffer>) => {
    submits.push(performance.now());
    submit(bufs);
  };
  proto.mapAsync = async function (this: GPUBuffer, ...a: Parameters<GPUBuffer['mapAsync']>) {
    mapCall = performance.now();
    await mapAsync.apply(this, a);
    mapResolved = performance.now();
  };
  try {
    const start = performance.now();
    const value = await run();
    const rel = (t: number) => round(t - start)!;
    return { value, timeline: { firstSubmitMs: rel(submits[0]!), lastSubmitMs: rel(submits.at(-1)!), submits: submits.length, mapCallMs: rel(mapCall), mapResolvedMs: rel(mapResolved) } };
  } finally {
    queue.submit = submit;
    proto.mapAsync = mapAsync;
  }
}

async function prefillBench(engine: WgllmEngine, gpu: GpuContext, len: number, vocab: number, repeats: number) {
  const ttft: number[] = [];
  const timelines: HostTimeline[] = [];
  // A fresh random prompt each time: the prefix cache must not serve it.
  for (let r = 0; r < repeats; r++) {
    const ids = randomIds(len, vocab, 5000 + 31 * len + r);
    const { value, timeline } = await withHostTimeline(gpu, () => runRequests(engine, [ids], 1));
    ttft.push(value.traces[0]!.ttftMs);
    timelines.push(timeline);
  }
  const ms = median(ttft);
  const med = (f: (t: HostTimeline) => number) => round(median(timelines.map(f)));
  const hostTimelineMs = { firstSubmit: med((t) => t.firstSubmitMs), lastSubmit: med((t) => t.lastSubmitMs), submits: med((t) => t.submits), mapCall: med((t) => t.mapCallMs), mapResolved: med((t) => t.mapResolvedMs) };
  return { promptLen: len, repeats, ttftMs: round(ms), ttftAllMs: ttft.map((x) => round(x)), tokensPerSec: round(len / (ms / 1e3), 2), hostTimelineMs };
}

async function servingBench(engine: WgllmEngine, n: number, lens: number[], gen: number, vocab: number) {
  const prompts = Array.from({ length: n }, (_, i) => randomIds(lens[i % lens.length]!, vocab, 9000 + i));
  const before = engine.stats().totals;
  const { traces, wallMs } = await runRequests(engine, prompts, gen);
  const after = engine.stats().totals;
  const out = traces.reduce((a, t) => a + t.tokenTimes.length, 0);
  const inp = prompts.reduce((a, p) => a + p.length, 0);
  return {
    requests: n,
    promptLens: lens,
    gen,
    wallMs: round(wallMs),
    outputTokensPerSec: round(out / (wallMs / 1e3), 2),
    totalTokensPerSec: round((out + inp) / (wallMs / 1e3), 2),
    ttftMs: pcts(traces.map((t) => t.ttftMs)),
    itlMs: pcts(itls(traces)),
    steps: after.steps - before.steps,
    preemptions: after.preemptions - before.preemptions,
  };
}

/** Host/GPU time per decode step, on a ModelRunner of its own (the Engine has no per-step hook). */
async function runnerBench(gpu: GpuContext, modelPath: string, act: ActDType, batches: number[], ctxLen: number, iters: number, profile: number[], profilePrefill: number[]) {
  const { model } = await openModelFiles(await openLocalModel(modelPath));
  const maxPrompt = Math.max(0, ...profilePrefill);
  const maxModelLen = Math.min(model.config.maxPositionEmbeddings, Math.max(ctxLen + iters + 8, maxPrompt));
  const maxNumSeqs = Math.max(...batches);
  const runner = await ModelRunner.create(gpu, model, {
    act,
    limits: { maxNumTokens: Math.max(maxNumSeqs, 16, maxPrompt), maxNumSeqs, maxModelLen },
    kv: { numBlocks: 2 + maxNumSeqs * Math.ceil(maxModelLen / 16), blockSize: 16 },
    // --fuse-quantize-x off | norms | all: which producers of x also quantize it (A/B; default the runner's)
    ...(args['fuse-quantize-x'] ? { fuseQuantizeX: args['fuse-quantize-x'] === 'all' ? true : args['fuse-quantize-x'] === 'norms' ? 'norms' : false } : {}),
    ...(args['fuse-rope'] ? { fuseRope: args['fuse-rope'] === 'on' } : {}),
    ...(args['tensor-attention'] ? { tensorAttention: args['tensor-attention'] === 'on' } : {}),
    ...(args['fuse-swiglu'] ? { fuseSwiglu: args['fuse-swiglu'] === 'on' } : {}),
    ...prefillDequant,
  });
  await model.close();
  const steps: StepTiming[] = [];
  const profiles: StepProfile[] = [];
  try {
    for (const b of batches) steps.push(await timeDecodeSteps(gpu, runner, b, Math.min(ctxLen, maxModelLen - iters - 2), iters));
    if (gpu.info.features.timestampQuery) {
      for (const b of profile.filter((p) => p <= maxNumSeqs)) profiles.push(await profileDecodeStep(gpu, runner, b, Math.min(ctxLen, maxModelLen - 4)));
      for (const n of profilePrefill.filter((p) => p <= maxModelLen)) profiles.push(await profilePrefillStep(gpu, runner, n));
    }
  } finally {
    runner.dispose();
  }
  return { steps, profiles };
}

function kvBlocksNeeded(batches: number[], decodePrompt: number, prompts: number[], conc: number, gen: number, maxModelLen: number, blockSize = 16): number {
  const blocks = (len: number) => Math.ceil((len + gen) / blockSize);
  const decode = Math.max(...batches) * blocks(decodePrompt);
  const prefill = Math.max(...prompts.map(blocks));
  let serving = 0;
  for (let i = 0; i < conc; i++) serving += blocks(prompts[i % prompts.length]!);
  // the engine refuses a cache that cannot hold one sequence at maxModelLen
  const oneFull = Math.ceil(maxModelLen / blockSize);
  return 1 + Math.max(decode, prefill, serving, oneFull) + Math.max(...batches, conc);
}

/** Bytes of the model file's tensors as stored (reads only the file's header and index). */
async function weightFileBytes(modelPath: string): Promise<number> {
  const { model } = await openModelFiles(await openLocalModel(modelPath));
  const n = [...model.tensors.values()].reduce((a, t) => a + t.byteLength, 0);
  await model.close();
  return n;
}

async function main(): Promise<void> {
  if (!args.model) throw new Error('--model PATH is required');
  const skip = new Set(args.skip!.split(',').filter(Boolean));
  const platform = createNodePlatform();
  const gpu = await acquireGpu(platform);
  const act = (args.act ?? (gpu.info.features.f16 ? 'f16' : 'f32')) as ActDType;
  const batches = ints(args.batches!);
  const prompts = ints(args.prompts!);
  const gen = Number(args.gen);
  const conc = Number(args.concurrency);
  const decodePrompt = Number(args['decode-prompt']);
  const kvBytes = args['kv-cache-mib'] ? Number(args['kv-cache-mib']) * 2 ** 20 : undefined;
  const log = (m: string) => console.error(`[engine-bench ${new Date().toISOString().slice(11, 19)}] ${m}`);
  log(`adapter ${gpu.info.vendor}/${gpu.info.device || gpu.info.architecture} act ${act}`);

  const result: Record<string, unknown> = {
    kind: 'engine-bench',
    date: new Date().toISOString(),
    adapter: gpu.info,
    options: { ...args, act },
  };
  if (!skip.has('copy')) {
    log(`copy bandwidth, ${args['copy-mib']} MiB`);
    result.copyBandwidth = await copyBandwidth(gpu, Number(args['copy-mib']) * 2 ** 20, Number(args['copy-iters']));
  }
  const maxModelLen = Math.max(...prompts, decodePrompt) + gen + 16;
  const opts = {
    act,
    maxModelLen,
    maxNumSeqs: Math.max(...batches, conc),
    maxNumBatchedTokens: Number(args['max-batched-tokens']),
    // Without --kv-cache-mib, exactly the blocks the largest phase needs at once (plus the null
    // block), so that no run is measured with preemptions; the engine's own default (1 GiB at
    // most) would preempt decode at batch 64 on an 8B model.
    ...(kvBytes ? { kvCacheBytes: kvBytes } : { numKvBlocks: kvBlocksNeeded(batches, decodePrompt, prompts, conc, gen, maxModelLen) }),
    tune: 'off' as const,
    ...prefillDequant,
  };
  result.engineOptions = opts;
  const tLoad = performance.now();
  const engine = await createEngine({ model: args.model, platform, gpu, ...opts });
  result.loadMs = round(performance.now() - tLoad);
  // The engine keeps its runner private: read it for the memory figures (bench only, not API).
  const engineRunner = (engine as unknown as { p?: { runner?: ModelRunner } }).p?.runner;
  if (!engineRunner) throw new Error('bench/engine.ts: Engine no longer keeps its runner at .p.runner; update memoryReport');
  const memory = memoryReport(engineRunner, await weightFileBytes(args.model));
  result.memory = memory;
  try {
    // Random prompts within the tokenizer's vocabulary (never larger than the model's).
    const V = engine.tokenizer.vocabSize;
    log('warm-up');
    await runRequests(engine, [randomIds(Math.min(16, decodePrompt), V, 1)], 4);
    if (!skip.has('decode')) {
      const rows = [];
      for (const b of batches) {
        log(`decode batch ${b}`);
        rows.push(await decodeBench(engine, b, gen, decodePrompt, V));
      }
      result.decode = rows;
    }
    if (!skip.has('prefill')) {
      const rows = [];
      for (const len of prompts) {
        log(`prefill ${len}`);
        rows.push(await prefillBench(engine, gpu, len, V, 3));
      }
      result.prefill = rows;
    }
    if (!skip.has('serving')) {
      log(`serving, ${conc} requests`);
      result.serving = await servingBench(engine, conc, prompts, gen, V);
    }
    result.engineStats = engine.stats();
  } finally {
    await engine.dispose();
  }
  if (!skip.has('steps')) {
    log('runner decode steps (host vs GPU time)');
    const stepCtx = args['step-context'] ? Number(args['step-context']) : decodePrompt;
    const { steps: rb, profiles } = await runnerBench(gpu, args.model, act, batches, stepCtx, Number(args['step-iters']), ints(args.profile!), ints(args['profile-prefill']!));
    result.decodeSteps = rb;
    if (profiles.length) result.kernelProfile = profiles;
    for (const p of profiles) log(`kernel profile, ${p.promptLen ? `prefill ${p.promptLen}` : `batch ${p.batch}`} (${p.onePassUs.toFixed(0)} µs in one pass; in-pass cost, separate-pass time): ${p.rows.slice(0, 10).map((r) => `${r.kernel} ${r.inPassUs?.toFixed(0)} / ${r.us.toFixed(0)} µs x${r.dispatches}`).join(', ')}`);
    // What the engine adds around the forward pass (scheduling, sampling, readback, streaming):
    // its median inter-token latency next to the runner's own step at the same batch.
    const decodeRows = (result.decode ?? []) as { batch: number; itlMs: { p50: number | null } }[];
    result.stepBreakdown = rb.map((st) => {
      const itl = decodeRows.find((d) => d.batch === st.batch)?.itlMs.p50 ?? null;
      return { batch: st.batch, engineItlMs: itl, runnerStepWallMs: st.stepWallMs, runnerHostMs: st.hostMs.total, gpuMs: st.gpuMs, engineOverheadMs: itl === null ? null : round(itl - st.stepWallMs) };
    });
    const bw = result.copyBandwidth as { readWriteGBps: number } | undefined;
    if (bw) {
      // Roofline: a decode step must stream every weight once; at batch b it yields b tokens.
      const floorMs = memory.weightBytesPerStep / (bw.readWriteGBps * 1e9) * 1e3;
      const decode = (result.decode ?? []) as { batch: number; tokensPerSec: number | null }[];
      result.roofline = {
        weightBytesPerStep: memory.weightBytesPerStep,
        bandwidthGBps: round(bw.readWriteGBps, 1),
        stepFloorMs: round(floorMs, 4),
        batch1CeilingTokensPerSec: round(1e3 / floorMs, 1),
        decodeFraction: decode.map((d) => ({ batch: d.batch, fraction: d.tokensPerSec === null ? null : round(d.tokensPerSec / d.batch / (1e3 / floorMs), 4) })),
        gpuStepFraction: rb.map((s) => ({ batch: s.batch, fraction: s.gpuMs === null ? null : round(floorMs / s.gpuMs, 4) })),
      };
    }
  }
  gpu.destroy();
  const dev = gpu.info;
  const out = args.out ?? `bench/results/engine-${(dev.device || dev.architecture || 'unknown').replace(/[^\w.-]+/g, '_')}.json`;
  await mkdir(path.dirname(out), { recursive: true });
  await writeFile(out, JSON.stringify(result, null, 2));
  console.log(JSON.stringify({ decode: result.decode, prefill: result.prefill, serving: result.serving, decodeSteps: result.decodeSteps, stepBreakdown: result.stepBreakdown, memory: result.memory, copyBandwidth: result.copyBandwidth, roofline: result.roofline }, null, 2));
  log(`wrote ${out}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
