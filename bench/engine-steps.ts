/**
 * Runner-level measurements for bench/engine.ts, where the Engine exposes no hook: host (CPU)
 * time of one decode step split into prepare / encode / submit, GPU time of the step's forward
 * pass (timestamp queries), GPU memory by kind, and device copy bandwidth (the roofline).
 */
import { GPUBufferUsageConst, GPUMapModeConst } from '../src/gpu/constants.js';
import type { GpuContext } from '../src/gpu/context.js';
import { grid1d } from '../src/gpu/grid.js';
import { GpuTimer } from '../src/gpu/timer.js';
import type { ModelRunner } from '../src/model/runner.js';
import type { ModelWeights } from '../src/model/weights.js';
import { median, percentile } from './trace-stats.js';

const r4 = (x: number) => Number(x.toFixed(4));

export function randomIds(n: number, vocab: number, seed: number): number[] {
  let x = (seed * 2654435761 + 1) >>> 0;
  return Array.from({ length: n }, () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x % vocab;
  });
}

/**
 * ModelRunner keeps its weights and activation buffers private; a benchmark may read them
 * (src/ has no accessor, and the bench must not edit src/).
 */
interface RunnerInternals {
  weights: ModelWeights;
  buf: Record<string, GPUBuffer | undefined>;
  k: { quantX: GPUBuffer[]; wF16?: { made: GPUBuffer | undefined } };
}

export interface MemoryReport {
  /** bytes of the model file's tensors (as stored) */
  weightFileBytes: number;
  /** bytes of the weight buffers on the GPU (may differ: e.g. fused or converted tensors) */
  weightGpuBytes: number;
  /** weight bytes a decode step streams: all but the embedding table, unless tied to lm_head */
  weightBytesPerStep: number;
  kvCacheBytes: number;
  kvCacheTokens: number;
  /**
   * the runner's activation buffers (sized by maxNumBatchedTokens and maxNumSeqs) and scratch: x
   * quantized for the GEMVs, the f16 copy of a layer's W for prompt GEMMs; not the sampler's
   */
  activationBytes: number;
  /** of which the f16 copy of W (RunnerOptions.prefillDequant) */
  weightF16CopyBytes: number;
  totalGpuBytes: number;
}

export function memoryReport(runner: ModelRunner, weightFileBytes: number): MemoryReport {
  const r = runner as unknown as RunnerInternals;
  const weightGpuBytes = r.weights.buffers.reduce((a, b) => a + b.size, 0);
  const tied = r.weights.output.weight.buffer === r.weights.embedding.weight.buffer;
  const weightBytesPerStep = weightGpuBytes - (tied ? 0 : r.weights.embedding.weight.buffer.size);
  const weightF16CopyBytes = r.k.wF16?.made?.size ?? 0;
  const activationBytes = [...Object.values(r.buf), ...r.k.quantX].reduce((a, b) => a + (b?.size ?? 0), 0) + weightF16CopyBytes;
  const kv = runner.kvCache;
  return {
    weightFileBytes,
    weightGpuBytes,
    weightBytesPerStep,
    kvCacheBytes: kv.totalBytes,
    kvCacheTokens: kv.capacityTokens,
    activationBytes,
    weightF16CopyBytes,
    totalGpuBytes: weightGpuBytes + kv.totalBytes + activationBytes,
  };
}

export interface StepTiming {
  batch: number;
  contextLen: number;
  steps: number;
  /** CPU ms per step (median): prepare (host inputs + metadata), encode (record + finish), submit */
  hostMs: { prepare: number; encode: number; submit: number; total: number };
  /** ms from the start of prepare to the GPU finishing (median), one step at a time */
  stepWallMs: number;
  /** the same, 90th percentile and worst (intermittent slow steps show here, not in the median) */
  stepWallP90Ms: number;
  stepWallMaxMs: number;
  /** GPU ms of the same one-at-a-time passes (timestamps), median / p90 / worst */
  loopGpuMs?: { p50: number; p90: number; max: number };
  /** GPU ms of the forward pass (median); null without timestamp-query */
  gpuMs: number | null;
}

/**
 * A direct decode loop on the runner (as test/support/greedy.ts, without sampling): `batch`
 * sequences at `contextLen` tokens of KV each, one token per sequence per step. The KV holds
 * whatever the cache holds (no prefill): attention reads the same bytes either way.
 */
export async function timeDecodeSteps(ctx: GpuContext, runner: ModelRunner, batch: number, contextLen: number, steps: number): Promise<StepTiming> {
  const bs = runner.blockSize;
  const perSeq = Math.ceil((contextLen + steps + 1) / bs);
  if (1 + batch * perSeq > runner.numBlocks) throw new Error(`decode-steps: ${batch} x ${perSeq} blocks exceed the cache's ${runner.numBlocks}`);
  const blocks = Array.from({ length: batch }, (_, i) => Array.from({ length: perSeq }, (_, j) => 1 + i * perSeq + j));
  const ids = randomIds(batch, runner.config.vocabSize, batch);
  const stepAt = (s: number) => ({
    tokenIds: ids,
    positions: blocks.map(() => contextLen + s),
    seqs: blocks.map((blockIds) => ({ queryLen: 1, seqLen: contextLen + s + 1, blockIds })),
    sampleRows: blocks.map((_, i) => i),
  });
  const prep: number[] = [];
  const encd: number[] = [];
  const subm: number[] = [];
  const wall: number[] = [];
  // GPU time of the very passes whose wall time is taken (where timestamps exist): tells slow
  // GPU work (clocks) apart from a slow wake-up of the host when a step is slow.
  const loopGpu: number[] = [];
  const ts = ctx.info.features.timestampQuery ? stepTimestamps(ctx) : undefined;
  // One step, one at a time: the clock after prepare, encode, submit and the wait, and the pass's GPU ms (NaN without timestamps).
  const oneStep = async (s: number) => {
    const t0 = performance.now();
    runner.prepare(stepAt(s));
    const t1 = performance.now();
    const enc = ctx.device.createCommandEncoder({ label: 'bench-decode' });
    const pass = enc.beginComputePass(ts ? { timestampWrites: ts.writes } : {});
    runner.encode(pass);
    pass.end();
    ts?.resolve(enc);
    const cb = enc.finish();
    const t2 = performance.now();
    ctx.queue.submit([cb]);
    const t3 = performance.now();
    const gpu = ts ? await ts.read() : (await ctx.queue.onSubmittedWorkDone(), NaN);
    return { t0, t1, t2, t3, t4: performance.now(), gpu };
  };
  // Warm-up: first-use pipeline and bind-group work (2 steps), and clocks (an idle GPU needs
  // ~150 ms of load to reach them; one step at a time keeps it below full load, so give it longer).
  const warmUntil = performance.now() + 500;
  for (let w = 0; w < 2 || performance.now() < warmUntil; w++) await oneStep(0);
  for (let s = 0; s < steps; s++) {
    const { t0, t1, t2, t3, t4, gpu } = await oneStep(s);
    prep.push(t1 - t0);
    encd.push(t2 - t1);
    subm.push(t3 - t2);
    wall.push(t4 - t0);
    loopGpu.push(gpu);
  }
  ts?.destroy();
  let gpuMs: number | null = null;
  const timer = new GpuTimer(ctx);
  if (timer.usesTimestamps) {
    runner.prepare(stepAt(0));
    const g: number[] = [];
    for (let i = 0; i < Math.max(3, Math.min(steps, 20)); i++) g.push(await timer.time((p) => runner.encode(p)));
    gpuMs = median(g);
  }
  timer.destroy();
  const hostMs = { prepare: r4(median(prep)), encode: r4(median(encd)), submit: r4(median(subm)), total: 0 };
  hostMs.total = r4(median(prep.map((p, i) => p + encd[i]! + subm[i]!)));
  return { batch, contextLen, steps, hostMs, stepWallMs: r4(median(wall)), stepWallP90Ms: r4(percentile(wall, 90)), stepWallMaxMs: r4(Math.max(...wall)), ...(ts ? { loopGpuMs: { p50: r4(median(loopGpu)), p90: r4(percentile(loopGpu, 90)), max: r4(Math.max(...loopGpu)) } } : {}), gpuMs: gpuMs === null ? null : r4(gpuMs) };
}

/** Begin/end timestamps of one pass per step, read back with the step (mapAsync waits for it). */
function stepTimestamps(ctx: GpuContext) {
  const querySet = ctx.device.createQuerySet({ type: 'timestamp', count: 2 });
  const resolveBuf = ctx.device.createBuffer({ size: 16, usage: GPUBufferUsageConst.QUERY_RESOLVE | GPUBufferUsageConst.COPY_SRC });
  const readBuf = ctx.device.createBuffer({ size: 16, usage: GPUBufferUsageConst.MAP_READ | GPUBufferUsageConst.COPY_DST });
  return {
    writes: { querySet, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 },
    resolve(enc: GPUCommandEncoder) {
      enc.resolveQuerySet(querySet, 0, 2, resolveBuf, 0);
      enc.copyBufferToBuffer(resolveBuf, 0, readBuf, 0, 16);
    },
    async read(): Promise<number> {
      await readBuf.mapAsync(GPUMapModeConst.READ);
      const t = new BigUint64Array(readBuf.getMappedRange().slice(0));
      readBuf.unmap();
      return Number(t[1]! - t[0]!) / 1e6;
    },
    destroy() {
      querySet.destroy();
      resolveBuf.destroy();
      readBuf.destroy();
    },
  };
}

const COPY_WGSL = /* wgsl */ `
@group(0) @binding(0) var<storage, read> src: array<vec4<u32>>;
@group(0) @binding(1) var<storage, read_write> dst: array<vec4<u32>>;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let i = (wid.x + wid.y * nwg.x) * 256u + li;
  if (i < arrayLength(&src)) { dst[i] = src[i]; }
}`;

export interface CopyBandwidth {
  bytes: number;
  iterations: number;
  /** ms per copy of `bytes` (median of the repeats) */
  ms: number;
  /** bytes copied per second (each byte read once and written once) */
  copyGBps: number;
  /** DRAM traffic per second, read + write: the roofline for streaming weights */
  readWriteGBps: number;
  method: 'wgsl-timestamps' | 'wgsl-wallclock';
}

/** A plain vec4<u32> copy kernel over `bytes`, in bindings no larger than the adapter allows. */
export async function copyBandwidth(ctx: GpuContext, bytes: number, iterations: number, repeats = 3): Promise<CopyBandwidth> {
  const lim = ctx.device.limits;
  const maxBind = Math.floor(Math.min(lim.maxStorageBufferBindingSize, 1 << 30) / 256) * 256;
  const size = Math.floor(Math.min(bytes, lim.maxBufferSize) / 256) * 256;
  const usage = GPUBufferUsageConst.STORAGE | GPUBufferUsageConst.COPY_SRC | GPUBufferUsageConst.COPY_DST;
  const src = ctx.device.createBuffer({ size, usage, label: 'bw-src' });
  const dst = ctx.device.createBuffer({ size, usage, label: 'bw-dst' });
  const module = ctx.device.createShaderModule({ code: COPY_WGSL });
  const pipeline = ctx.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
  const chunks: { bg: GPUBindGroup; grid: [number, number, number] }[] = [];
  for (let off = 0; off < size; off += maxBind) {
    const n = Math.min(maxBind, size - off);
    const bg = ctx.device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: [
        { binding: 0, resource: { buffer: src, offset: off, size: n } },
        { binding: 1, resource: { buffer: dst, offset: off, size: n } },
      ],
    });
    chunks.push({ bg, grid: grid1d(Math.ceil(n / 16 / 256), lim.maxComputeWorkgroupsPerDimension) });
  }
  const timer = new GpuTimer(ctx);
  const record = (pass: GPUComputePassEncoder) => {
    pass.setPipeline(pipeline);
    for (const c of chunks) {
      pass.setBindGroup(0, c.bg);
      pass.dispatchWorkgroups(...c.grid);
    }
  };
  await timer.time(record, 1); // warm-up: pipeline creation, first touch of the pages
  const ms: number[] = [];
  for (let r = 0; r < repeats; r++) ms.push(await timer.time(record, iterations));
  const method = timer.usesTimestamps ? 'wgsl-timestamps' : 'wgsl-wallclock';
  timer.destroy();
  src.destroy();
  dst.destroy();
  const t = median(ms);
  const copyGBps = size / (t / 1e3) / 1e9;
  return { bytes: size, iterations, ms: r4(t), copyGBps: r4(copyGBps), readWriteGBps: r4(2 * copyGBps), method };
}

interface RecordedDispatch {
  pipeline: GPUComputePipeline;
  groups: Map<number, GPUBindGroup>;
  grid: [number, number, number];
}

export interface KernelProfileRow {
  /** the launch's role and kernel id (bind group and pipeline labels) */
  kernel: string;
  dispatches: number;
  /** GPU µs per step, summed over the kernel's dispatches (median over the repeats) */
  us: number;
  /** share of the summed per-dispatch times */
  share: number;
  /** GPU µs the kernel's dispatches add to the one-pass step (leave-one-kind-out), null if not measured */
  inPassUs: number | null;
}

/**
 * Where a decode step's GPU time goes: records the runner's dispatches for one step (`batch`
 * sequences at `contextLen` tokens of KV), then replays each in a compute pass of its own with
 * begin/end timestamps. Separate passes drop the overlap between neighbouring dispatches that
 * one pass allows, so the sum exceeds the one-pass step time (reported next to it); the split
 * between kernels is what this is for.
 */
export async function profileDecodeStep(ctx: GpuContext, runner: ModelRunner, batch: number, contextLen: number, repeats = 5): Promise<StepProfile> {
  const bs = runner.blockSize;
  const perSeq = Math.ceil((contextLen + 2) / bs);
  const blocks = Array.from({ length: batch }, (_, i) => Array.from({ length: perSeq }, (_, j) => 1 + i * perSeq + j));
  runner.prepare({
    tokenIds: randomIds(batch, runner.config.vocabSize, batch),
    positions: blocks.map(() => contextLen),
    seqs: blocks.map((blockIds) => ({ queryLen: 1, seqLen: contextLen + 1, blockIds })),
    sampleRows: blocks.map((_, i) => i),
  });
  return { batch, ...(await profilePrepared(ctx, runner, repeats)) };
}

/** The same split for the prefill step of one promptLen-token prompt (one chunk, empty cache). */
export async function profilePrefillStep(ctx: GpuContext, runner: ModelRunner, promptLen: number, repeats = 5): Promise<StepProfile> {
  const blockIds = Array.from({ length: Math.ceil(promptLen / runner.blockSize) }, (_, j) => 1 + j);
  runner.prepare({
    tokenIds: randomIds(promptLen, runner.config.vocabSize, promptLen),
    positions: Array.from({ length: promptLen }, (_, i) => i),
    seqs: [{ queryLen: promptLen, seqLen: promptLen, blockIds }],
    sampleRows: [promptLen - 1],
  });
  return { batch: 1, promptLen, ...(await profilePrepared(ctx, runner, repeats)) };
}

export interface StepProfile {
  batch: number;
  promptLen?: number;
  sumUs: number;
  onePassUs: number;
  rows: KernelProfileRow[];
}

/** Replays the prepared step's dispatches one per pass (each timed) and leave-one-kind-out. */
async function profilePrepared(ctx: GpuContext, runner: ModelRunner, repeats: number): Promise<Omit<StepProfile, 'batch'>> {
  const calls: RecordedDispatch[] = [];
  let pipeline: GPUComputePipeline | undefined;
  const groups = new Map<number, GPUBindGroup>();
  const recorder = {
    setPipeline: (p: GPUComputePipeline) => void (pipeline = p),
    setBindGroup: (i: number, g: GPUBindGroup, offsets?: unknown) => {
      if (offsets && (offsets as ArrayLike<number>).length) throw new Error('step profile: dynamic offsets are not replayed');
      groups.set(i, g);
    },
    dispatchWorkgroups: (x: number, y = 1, z = 1) => void calls.push({ pipeline: pipeline!, groups: new Map(groups), grid: [x, y, z] }),
    dispatchWorkgroupsIndirect: () => {
      throw new Error('step profile: indirect dispatches are not replayed');
    },
    pushDebugGroup: () => {},
    popDebugGroup: () => {},
    insertDebugMarker: () => {},
    end: () => {},
  };
  runner.encode(recorder as unknown as GPUComputePassEncoder);
  const n = calls.length;
  const qs = ctx.device.createQuerySet({ type: 'timestamp', count: 2 * n });
  const resolve = ctx.device.createBuffer({ size: 16 * n, usage: GPUBufferUsageConst.QUERY_RESOLVE | GPUBufferUsageConst.COPY_SRC });
  const read = ctx.device.createBuffer({ size: 16 * n, usage: GPUBufferUsageConst.MAP_READ | GPUBufferUsageConst.COPY_DST });
  const per: number[][] = calls.map(() => []);
  try {
    for (let r = 0; r < repeats + 1; r++) {
      const enc = ctx.device.createCommandEncoder({ label: 'bench-profile' });
      calls.forEach((c, i) => {
        const pass = enc.beginComputePass({ timestampWrites: { querySet: qs, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 } });
        pass.setPipeline(c.pipeline);
        for (const [k, g] of c.groups) pass.setBindGroup(k, g);
        pass.dispatchWorkgroups(...c.grid);
        pass.end();
      });
      enc.resolveQuerySet(qs, 0, 2 * n, resolve, 0);
      enc.copyBufferToBuffer(resolve, 0, read, 0, 16 * n);
      ctx.queue.submit([enc.finish()]);
      await read.mapAsync(GPUMapModeConst.READ);
      const t = new BigUint64Array(read.getMappedRange().slice(0));
      read.unmap();
      if (r === 0) continue; // warm-up
      for (let i = 0; i < n; i++) per[i]!.push(Number(t[2 * i + 1]! - t[2 * i]!) / 1e3);
    }
  } finally {
    qs.destroy();
    resolve.destroy();
    read.destroy();
  }
  // pipeline label = kernel id; bind group label = the launch's role (e.g. 'qkv:q4_0:matmul.gemv[3]')
  const kindOf = (c: RecordedDispatch) => {
    const role = (c.groups.get(0)?.label ?? '').replace(/(\[\d+\]|:\d+)$/, '');
    return role && !role.endsWith(c.pipeline.label) ? `${role} ${c.pipeline.label}` : role || c.pipeline.label || 'unlabelled';
  };
  const byKernel = new Map<string, { dispatches: number; us: number }>();
  calls.forEach((c, i) => {
    const k = kindOf(c);
    const e = byKernel.get(k) ?? { dispatches: 0, us: 0 };
    e.dispatches++;
    e.us += median(per[i]!);
    byKernel.set(k, e);
  });
  const inPass = await leaveOneKindOut(ctx, calls, calls.map(kindOf));
  const sumUs = [...byKernel.values()].reduce((a, e) => a + e.us, 0);
  const rows = [...byKernel.entries()]
    .map(([kernel, e]) => ({ kernel, dispatches: e.dispatches, us: r4(e.us), share: r4(e.us / sumUs), inPassUs: inPass.costUs.get(kernel) ?? null }))
    .sort((a, b) => b.us - a.us);
  return { sumUs: r4(sumUs), onePassUs: inPass.fullUs, rows };
}

/**
 * What each kind of dispatch costs inside the one pass a step really is: the pass's GPU time with
 * every dispatch, minus its time without that kind's dispatches (the others unchanged; their
 * inputs hold whatever the last full pass left, which changes no timing here). Separate passes
 * charge each dispatch a pass's fixed cost and lose the overlap between neighbours; this does not.
 * Warmed first (bench/steady.ts: clocks follow load), median of 5 per variant.
 */
async function leaveOneKindOut(ctx: GpuContext, calls: RecordedDispatch[], kinds: string[]): Promise<{ fullUs: number; costUs: Map<string, number> }> {
  const timer = new GpuTimer(ctx);
  const replay = (pass: GPUComputePassEncoder, skip: string | undefined) =>
    calls.forEach((c, i) => {
      if (kinds[i] === skip) return;
      pass.setPipeline(c.pipeline);
      for (const [k, g] of c.groups) pass.setBindGroup(k, g);
      pass.dispatchWorkgroups(...c.grid);
    });
  const timePass = async (skip: string | undefined, reps: number): Promise<number> => {
    const us: number[] = [];
    for (let r = 0; r < reps; r++) us.push(1e3 * (await timer.time((p) => replay(p, skip))));
    return median(us);
  };
  try {
    const t0 = performance.now();
    while (performance.now() - t0 < 500) await timePass(undefined, 1); // sustained load: steady clocks
    const fullUs = await timePass(undefined, 5);
    const costUs = new Map<string, number>();
    for (const k of new Set(kinds)) costUs.set(k, r4(fullUs - (await timePass(k, 5))));
    return { fullUs: r4(fullUs), costUs };
  } finally {
    timer.destroy();
  }
}
