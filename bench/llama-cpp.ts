/**
 * The peer: llama.cpp (node-llama-cpp, prebuilt Vulkan binaries) on the same GGUF, measured the way
 * bench/engine.ts measures our engine, for bench/RESULTS.md.
 *
 *   node bench/build.mjs bench/llama-cpp.ts
 *   node bench/dist/llama-cpp.js --model PATH [--batches 1,8,32,64] [--gen 128]
 *     [--prompts 128,512,2048] [--concurrency 32] [--batch-size 512] [--flash-attention on|off] [--dispatch lockstep|nextCycle] [--vocab 49152] [--peer bench/peer] [--out FILE]
 *
 * node-llama-cpp is a benchmark-only package installed in bench/peer (see bench/peer/pack.sh), not a
 * dependency of the project: it is loaded at run time from --peer, and only the few calls used here
 * are typed below.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { decodeSummary, itls, median, pcts, round } from './trace-stats.js';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string' },
    batches: { type: 'string', default: '1,8,32,64' },
    gen: { type: 'string', default: '128' },
    prompts: { type: 'string', default: '128,512,2048' },
    concurrency: { type: 'string', default: '32' },
    'decode-prompt': { type: 'string', default: '32' },
    // llama.cpp's default micro-batch (n_ubatch); node-llama-cpp sets n_batch = n_ubatch to this.
    'batch-size': { type: 'string', default: '512' },
    repeats: { type: 'string', default: '3' },
    'flash-attention': { type: 'string', default: 'on' },
    // decode phase: lockstep = one llama_decode per step with every sequence (see lockstep());
    // nextCycle = free-running sequences and node-llama-cpp's default dispatch. Serving always
    // uses node-llama-cpp's own batching, as our serving figure uses our engine's scheduler.
    dispatch: { type: 'string', default: 'lockstep' },
    // prompt ids are drawn from [256, vocab): the real tokens of a gen-model GGUF (SmolLM2's 49152;
    // the rest of the vocabulary is control-token padding). The weights are random anyway.
    vocab: { type: 'string', default: '49152' },
    peer: { type: 'string', default: 'bench/peer' },
    skip: { type: 'string', default: '' },
    out: { type: 'string' },
  },
});

type Token = number;
interface Sequence {
  evaluate(tokens: Token[], options?: Record<string, unknown>): AsyncGenerator<Token, void, void>;
  clearHistory(): Promise<void>;
}
interface Context {
  getSequence(): Sequence;
  printTimings(): Promise<void>;
  dispose(): Promise<void>;
  readonly contextSize: number;
  readonly batchSize: number;
}
interface Model {
  createContext(o: { sequences: number; contextSize: number; batchSize: number; flashAttention: boolean; performanceTracking: boolean; batching?: { dispatchSchedule: 'nextCycle' | ((dispatch: () => void) => void) } }): Promise<Context>;
  dispose(): Promise<void>;
  readonly size: number;
  readonly gpuLayers: number;
  readonly trainContextSize: number;
  readonly fileInfo: { metadata: { general?: { name?: string; architecture?: string } } };
  readonly tokens: { bos: Token | null; eos: Token | null };
  readonly fileInsights: { totalLayers: number };
}
interface Llama {
  readonly gpu: string | false;
  readonly supportsGpuOffloading: boolean;
  readonly llamaCppRelease: { repo: string; release: string };
  readonly systemInfo: string;
  readonly buildType: string;
  getGpuDeviceNames(): Promise<string[]>;
  getVramState(): Promise<{ total: number; used: number; free: number }>;
  loadModel(o: { modelPath: string; gpuLayers: 'max' | number; defaultContextFlashAttention?: boolean }): Promise<Model>;
  dispose(): Promise<void>;
}
interface NodeLlamaCpp {
  getLlama(o: Record<string, unknown>): Promise<Llama>;
  LlamaLogLevel: Record<string, string>;
}

const FA = args['flash-attention'] !== 'off';
const ints = (s: string) => s.split(',').filter(Boolean).map(Number);
const log = (m: string) => console.error(`[llama-cpp-bench ${new Date().toISOString().slice(11, 19)}] ${m}`);

/** Deterministic random token ids in [lo, hi) (xorshift; the same seeds give the same prompts). */
function randomIds(n: number, lo: number, hi: number, seed: number): Token[] {
  let s = (seed * 2654435761) >>> 0 || 1;
  return Array.from({ length: n }, () => {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return lo + (s % (hi - lo));
  });
}

/**
 * llama.cpp's own timers: printTimings() logs llama_perf_context_print lines (and resets them).
 * They count GPU work and the C++ side of a decode, not sampling or the JS around it.
 */
const perfLines: string[] = [];
async function llamaTimers(ctx: Context) {
  perfLines.length = 0;
  await ctx.printTimings();
  const grab = (label: string) => {
    const line = perfLines.find((l) => new RegExp(`^\\s*${label} time`).test(l.replace(/^.*?:\s*/, '')));
    const m = line?.match(/=\s*([\d.]+) ms\s*\/\s*(\d+) (?:tokens|runs)/);
    if (!m) return null;
    const ms = Number(m[1]);
    const n = Number(m[2]);
    return { ms: round(ms), n, perSec: round(n / (ms / 1e3), 2) };
  };
  return { promptEval: grab('prompt eval'), eval: grab('eval'), raw: perfLines.map((l) => l.trim()).filter(Boolean) };
}

interface Trace { start: number; tokenTimes: number[] }

/** Sequences expected to queue a decode (for lockstep dispatch) and what the context did. */
interface Gate { active: number; decodeCalls: number; forced: number }
const newGate = (active: number): Gate => ({ active, decodeCalls: 0, forced: 0 });

/**
 * Stepping sequences together. node-llama-cpp dispatches what is queued one event-loop turn after
 * the first sequence queues, and after a batch it loops again on whatever was queued meanwhile. Its
 * sequences sample on the libuv pool and come back one by one, so with free-running sequences a step
 * of 32 became several llama_decode calls of 1-11 tokens (GGML_VK_PERF_LOGGER on the H200: ~85 ms a
 * step). Lockstep, as a batched server steps: each sequence waits for all others' token of the step
 * (stepBarrier) before asking for the next, and the dispatch waits until every live sequence has
 * queued. The dispatch reads node-llama-cpp's private queue (pinned version; bench only); after
 * 100 ms it dispatches anyway and counts it in `forced`, so a wrong count slows a run, never hangs it.
 */
function lockstep(gate: Gate, ctx: { current?: Context }) {
  return (dispatch: () => void) => {
    const t0 = performance.now();
    const poll = () => {
      const queued = (ctx.current as unknown as { _queuedDecodeSequenceIds?: Set<number> } | undefined)?._queuedDecodeSequenceIds?.size;
      if (queued === undefined || queued >= gate.active) dispatch();
      else if (performance.now() - t0 > 100) { gate.forced++; dispatch(); }
      else setImmediate(poll);
    };
    poll();
  };
}

/** A barrier per step: resolves once all `n` sequences have their k-th token (onAll runs first). */
function stepBarrier(n: number, onAll: (k: number) => Promise<unknown> | void) {
  const steps = new Map<number, { waiting: number; all: Promise<void>; release: () => void }>();
  return async (k: number) => {
    let st = steps.get(k);
    if (!st) {
      let release!: () => void;
      const all = new Promise<void>((r) => (release = r));
      st = { waiting: 0, all, release };
      steps.set(k, st);
    }
    if (++st.waiting === n) { await onAll(k); st.release(); steps.delete(k); }
    await st.all;
  };
}

/** A context with the chosen dispatch schedule, counting llama_decode calls in `gate`. */
async function createContext(model: Model, gate: Gate, o: { sequences: number; contextSize: number; batchSize: number; performanceTracking?: boolean }, together = false): Promise<Context> {
  const holder: { current?: Context } = {};
  const ctx = await model.createContext({
    flashAttention: FA,
    performanceTracking: true,
    ...o,
    batching: { dispatchSchedule: together ? lockstep(gate, holder) : 'nextCycle' },
  });
  holder.current = ctx;
  // Count llama_decode calls: the addon's methods are read-only, so its holder gets a proxy.
  const holderOfNative = ctx as unknown as { _ctx?: object };
  const native = holderOfNative._ctx;
  if (native) {
    holderOfNative._ctx = new Proxy(native, {
      get(t, k) {
        const v: unknown = Reflect.get(t, k);
        if (typeof v !== 'function') return v;
        const f = v as (...a: unknown[]) => unknown;
        return k === 'decodeBatch' ? (...a: unknown[]) => { gate.decodeCalls++; return f.apply(t, a); } : f.bind(t);
      },
    });
  }
  return ctx;
}

/**
 * One sequence: evaluate the prompt, then `gen` greedy tokens (EOS is not special here).
 * `onToken(k)` runs after the k-th token (not after the last) before the next is asked for.
 */
async function runSequence(seq: Sequence, prompt: Token[], gen: number, gate: Gate, onToken?: (k: number) => Promise<void>): Promise<Trace> {
  const tr: Trace = { start: performance.now(), tokenTimes: [] };
  const it = seq.evaluate(prompt, { temperature: 0 });
  try {
    let r = await it.next();
    while (!r.done) {
      tr.tokenTimes.push(performance.now());
      if (tr.tokenTimes.length >= gen) break;
      if (onToken) await onToken(tr.tokenTimes.length);
      r = await it.next();
    }
  } finally {
    // no longer queues decodes: the others must not wait for it
    gate.active--;
  }
  await it.return(undefined);
  return tr;
}

async function decodeBench(model: Model, batch: number, gen: number, promptLen: number, batchSize: number, lo: number, hi: number) {
  const together = args.dispatch !== 'nextCycle';
  const gate = newGate(batch);
  const ctx = await createContext(model, gate, { sequences: batch, contextSize: promptLen + gen + 16, batchSize: Math.max(batchSize, batch) }, together);
  try {
    const seqs = Array.from({ length: batch }, () => ctx.getSequence());
    const prompts = seqs.map((_, i) => randomIds(promptLen, lo, hi, 1000 * batch + i));
    // Every sequence waits after its first token until all prompts are prefilled, then they step
    // together (--dispatch nextCycle: they run freely after that): the decode phase is timed from
    // there to the last token, like bench/engine.ts.
    let prefillTimers: Awaited<ReturnType<typeof llamaTimers>> | null = null;
    let tStart = 0;
    let prefillCalls = 0;
    const step = stepBarrier(batch, async (k) => {
      if (k > 1) return;
      prefillTimers = await llamaTimers(ctx);
      prefillCalls = gate.decodeCalls;
      tStart = performance.now();
    });
    const onToken = (k: number) => (together || k === 1 ? step(k) : Promise.resolve());
    const traces = await Promise.all(seqs.map((s, i) => runSequence(s, prompts[i]!, gen, gate, onToken)));
    const decodeTimers = await llamaTimers(ctx);
    // Decode steps of several sequences are one llama_decode of `batch` tokens each, which
    // llama.cpp counts as prompt eval when batch > 1; either way its tokens/s is tokens over time.
    const own = batch === 1 ? decodeTimers.eval : decodeTimers.promptEval ?? decodeTimers.eval;
    return {
      batch,
      gen,
      promptLen,
      ...decodeSummary(traces, tStart, batch),
      // gen - 1 when every step was one llama_decode of all sequences
      dispatch: together ? 'lockstep' : 'nextCycle',
      llamaDecodeCalls: gate.decodeCalls - prefillCalls,
      forcedDispatches: gate.forced,
      llamaTimers: { tokensPerSec: own?.perSec ?? null, decode: decodeTimers, prefill: prefillTimers },
    };
  } finally {
    await ctx.dispose();
  }
}

async function prefillBench(model: Model, lens: number[], repeats: number, batchSize: number, lo: number, hi: number) {
  const gate = newGate(1);
  const ctx = await createContext(model, gate, { sequences: 1, contextSize: Math.max(...lens) + 16, batchSize });
  const rows = [];
  try {
    const seq = ctx.getSequence();
    await runSequence(seq, randomIds(16, lo, hi, 7), 2, gate); // warm-up of the prefill shapes
    for (const len of lens) {
      const ttft: number[] = [];
      const own: (number | null)[] = [];
      for (let r = 0; r < repeats; r++) {
        // A fresh prompt on an empty sequence each time: nothing is reused from the KV cache.
        await seq.clearHistory();
        await llamaTimers(ctx);
        gate.active = 1;
        const tr = await runSequence(seq, randomIds(len, lo, hi, 5000 + 31 * len + r), 1, gate);
        ttft.push(tr.tokenTimes[0]! - tr.start);
        own.push((await llamaTimers(ctx)).promptEval?.perSec ?? null);
      }
      const ms = median(ttft);
      rows.push({ promptLen: len, repeats, ttftMs: round(ms), ttftAllMs: ttft.map((x) => round(x)), tokensPerSec: round(len / (ms / 1e3), 2), llamaTimers: { tokensPerSec: median(own.filter((x): x is number => x !== null)) || null, all: own } });
    }
  } finally {
    await ctx.dispose();
  }
  return rows;
}

/** N requests at once, prompt lengths cycling through `lens`: node-llama-cpp batches them itself. */
async function servingBench(model: Model, n: number, lens: number[], gen: number, batchSize: number, lo: number, hi: number) {
  const gate = newGate(n);
  const ctx = await createContext(model, gate, { sequences: n, contextSize: Math.max(...lens) + gen + 16, batchSize });
  try {
    const prompts = Array.from({ length: n }, (_, i) => randomIds(lens[i % lens.length]!, lo, hi, 9000 + i));
    const seqs = prompts.map(() => ctx.getSequence());
    const t0 = performance.now();
    const traces = await Promise.all(seqs.map((s, i) => runSequence(s, prompts[i]!, gen, gate)));
    const wallMs = performance.now() - t0;
    const out = traces.reduce((a, t) => a + t.tokenTimes.length, 0);
    const inp = prompts.reduce((a, p) => a + p.length, 0);
    return {
      requests: n,
      promptLens: lens,
      gen,
      wallMs: round(wallMs),
      outputTokensPerSec: round(out / (wallMs / 1e3), 2),
      totalTokensPerSec: round((out + inp) / (wallMs / 1e3), 2),
      ttftMs: pcts(traces.map((t) => t.tokenTimes[0]! - t.start)),
      itlMs: pcts(itls(traces)),
      llamaDecodeCalls: gate.decodeCalls,
      llamaTimers: await llamaTimers(ctx),
    };
  } finally {
    await ctx.dispose();
  }
}

async function main(): Promise<void> {
  if (!args.model) throw new Error('--model PATH is required');
  // node-llama-cpp samples every sequence on libuv's pool, 4 threads by default, so 32 sequences
  // wait for each other's sampling. The pool's size is read once, before this code runs (the ESM
  // loader already used it): re-run with one thread per CPU unless the caller chose a size.
  if (!process.env.UV_THREADPOOL_SIZE) {
    const env = { ...process.env, UV_THREADPOOL_SIZE: String(Math.min(1024, os.availableParallelism())) };
    const child = spawnSync(process.execPath, process.argv.slice(1), { env, stdio: 'inherit' });
    process.exit(child.status ?? 1);
  }
  const skip = new Set(args.skip!.split(',').filter(Boolean));
  const batches = ints(args.batches!);
  const prompts = ints(args.prompts!);
  const gen = Number(args.gen);
  const conc = Number(args.concurrency);
  const decodePrompt = Number(args['decode-prompt']);
  const batchSize = Number(args['batch-size']);
  const repeats = Number(args.repeats);

  // Resolved from the peer package, never from the project's own node_modules.
  const peerDir = path.resolve(args.peer!);
  const entry = createRequire(path.join(peerDir, 'package.json')).resolve('node-llama-cpp');
  const pkgDir = path.resolve(path.dirname(entry), '..');
  const version = (JSON.parse(readFileSync(path.join(pkgDir, 'package.json'), 'utf8')) as { version: string }).version;
  const nlc = (await import(pathToFileURL(entry).href)) as NodeLlamaCpp;

  const llama = await nlc.getLlama({
    gpu: 'vulkan',
    build: 'never',
    logLevel: nlc.LlamaLogLevel.info,
    logger: (level: string, message: string) => {
      if (message.includes('llama_perf_context_print')) perfLines.push(...message.split('\n'));
      else if (level === 'error' || level === 'fatal' || level === 'warn') console.error(`[llama.cpp ${level}] ${message.trimEnd()}`);
    },
  });
  if (llama.gpu !== 'vulkan') throw new Error(`node-llama-cpp loaded gpu=${String(llama.gpu)}, not vulkan`);
  const gpuNames = await llama.getGpuDeviceNames();
  log(`llama.cpp ${llama.llamaCppRelease.release} (node-llama-cpp ${version}, ${llama.buildType}) on ${gpuNames.join(', ')}`);
  const vramBefore = await llama.getVramState();

  const tLoad = performance.now();
  const model = await llama.loadModel({ modelPath: args.model, gpuLayers: 'max' });
  const loadMs = performance.now() - tLoad;
  const vramModel = await llama.getVramState();
  // Vulkan devices of CPU type (lavapipe, SwiftShader) are skipped by ggml: then nothing is offloaded.
  if (model.gpuLayers < model.fileInsights.totalLayers) log(`warning: only ${model.gpuLayers}/${model.fileInsights.totalLayers} layers on the GPU`);
  const { bos, eos } = model.tokens;
  const hi = Number(args.vocab);
  const lo = Math.min(256, hi >> 1);
  if ((bos !== null && bos >= lo && bos < hi) || (eos !== null && eos >= lo && eos < hi)) log(`note: bos/eos ${bos}/${eos} lie in the prompt id range`);

  const result: Record<string, unknown> = {
    kind: 'llama-cpp-bench',
    date: new Date().toISOString(),
    versions: { nodeLlamaCpp: version, llamaCpp: llama.llamaCppRelease, buildType: llama.buildType, node: process.version },
    gpu: { backend: llama.gpu, devices: gpuNames, vramTotalBytes: vramBefore.total },
    systemInfo: llama.systemInfo,
    options: { ...args, uvThreadpoolSize: Number(process.env.UV_THREADPOOL_SIZE) },
    contextOptions: { gpuLayers: 'max', flashAttention: FA, batchSize, ubatchSize: batchSize, build: 'never' },
    modelInfo: { name: model.fileInfo.metadata.general?.name ?? null, architecture: model.fileInfo.metadata.general?.architecture ?? null, fileBytes: model.size, gpuLayers: model.gpuLayers, totalLayers: model.fileInsights.totalLayers },
    loadMs: round(loadMs),
  };
  const memory: Record<string, number> = { vramUsedBeforeLoad: vramBefore.used, modelVramBytes: vramModel.used - vramBefore.used };
  result.memory = memory;
  try {
    log('warm-up');
    await decodeBench(model, 1, 4, 16, batchSize, lo, hi);
    if (!skip.has('decode')) {
      const rows = [];
      for (const b of batches) {
        log(`decode batch ${b}`);
        rows.push(await decodeBench(model, b, gen, decodePrompt, batchSize, lo, hi));
      }
      result.decode = rows;
    }
    if (!skip.has('prefill')) {
      log(`prefill ${prompts.join(',')}`);
      result.prefill = await prefillBench(model, prompts, repeats, batchSize, lo, hi);
    }
    if (!skip.has('serving')) {
      log(`serving, ${conc} requests`);
      result.serving = await servingBench(model, conc, prompts, gen, batchSize, lo, hi);
    }
    // GPU memory with the largest context alive (KV cache and compute buffers of `conc` sequences).
    const ctx = await createContext(model, newGate(0), { sequences: Math.max(conc, ...batches), contextSize: Math.max(...prompts) + gen + 16, batchSize, performanceTracking: false });
    memory.largestContextVramBytes = (await llama.getVramState()).used - vramModel.used;
    memory.largestContextTokens = ctx.contextSize * Math.max(conc, ...batches);
    memory.totalVramBytes = (await llama.getVramState()).used - vramBefore.used;
    await ctx.dispose();
  } finally {
    await model.dispose();
    await llama.dispose();
  }
  const out = args.out ?? `bench/results/llama-cpp-${(gpuNames[0] ?? 'unknown').toLowerCase().replace(/[^\w.-]+/g, '-')}.json`;
  await mkdir(path.dirname(out), { recursive: true });
  await writeFile(out, JSON.stringify(result, null, 2));
  const brief = (rows: unknown) => (rows as Record<string, unknown>[] | undefined)?.map(({ llamaTimers: t, ...r }) => ({ ...r, llamaTokensPerSec: (t as { tokensPerSec: number | null }).tokensPerSec }));
  console.log(JSON.stringify({ decode: brief(result.decode), prefill: brief(result.prefill), serving: result.serving && { ...(result.serving as object), llamaTimers: undefined }, memory }, null, 2));
  log(`wrote ${out}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
