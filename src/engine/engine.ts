import { WgllmError } from '../core/errors.js';
import { resolveSampling, type ResolvedSampling } from '../core/sampling-params.js';
import type { GpuContext } from '../gpu/context.js';
import type { SampleReadback } from '../kernels/sampling-readback.js';
import type { Sampler } from '../kernels/sampling-sampler.js';
import type { SamplingRow } from '../kernels/sampling-layout.js';
import type { ModelRunner } from '../model/runner.js';
import { Request, RequestStatus, finishReason, type FinishedStatus } from '../scheduler/request.js';
import type { Scheduler } from '../scheduler/scheduler.js';
import type { SchedulerOutput } from '../scheduler/output.js';
import type { Tokenizer } from '../tokenizer/index.js';
import { RequestError } from './openai/errors.js';
import { RequestState } from './request-state.js';
import type { EngineStats, GenerateOptions, GenerateParams, GenerationEvent, TokenLogprob } from './types.js';

/** What the scheduler carries per request: its stop controls plus the resolved sampling. */
export interface EngineRequestParams {
  maxTokens: number;
  minTokens?: number;
  ignoreEos?: boolean;
  stopTokenIds?: readonly number[];
}

export interface EngineParts {
  ctx: GpuContext;
  runner: ModelRunner;
  sampler: Sampler;
  scheduler: Scheduler<EngineRequestParams>;
  tokenizer: Tokenizer;
  maxModelLen: number;
  /** the model's end-of-sequence tokens */
  eosTokenIds: readonly number[];
  /** frees what the parts do not own (the model file, the device) */
  onDispose?: () => Promise<void> | void;
}

let nextId = 0;

/** Steps of at least this many tokens are submitted in parts (Engine.launch). */
const SPLIT_SUBMIT_TOKENS = 128;
/**
 * Layers of such a step's first part. H200, Llama-3.1-8B Q4_0, 512-token prompt, same call, time
 * to first token after a warm-up run: 56.9, 56.9, 56.4, 57.0 ms with a first part of 8 layers,
 * 56.0, 56.1, 55.6, 55.9 with 1 (then 4, 16, 32).
 */
const SUBMIT_FIRST_LAYERS = 1;

/**
 * Ends of the layer ranges a long step is submitted in: `first` layers, then parts growing
 * fourfold. The GPU waits for the first part's recording only; each later part is recorded while
 * the GPU runs the ones before it (recording a layer takes a fraction of running it).
 */
export function submitParts(layers: number, first: number): number[] {
  const ends: number[] = [];
  for (let e = Math.max(1, first); e < layers; e *= 4) ends.push(e);
  ends.push(layers);
  return ends;
}

/** A step submitted to the GPU whose sampled tokens are not yet applied. */
interface LaunchedStep {
  out: SchedulerOutput;
  /** the request behind each sampled row */
  sampleIds: string[];
  readback: SampleReadback | undefined;
}

/**
 * The serving loop: requests come in through `generate`, the scheduler forms each step (new
 * prompt chunks and one token per running request, within the token budget), the runner and
 * the GPU sampler compute it (one submission; two for a step of >= 128 tokens), and the
 * sampled tokens flow back to each request's stream. One loop runs while any request is unfinished.
 *
 * With async scheduling (the scheduler's `asyncScheduling`) the loop launches step N+1 before it
 * reads step N's tokens: a decode input whose token is still on the GPU is a placeholder that
 * the sampler's feed fills from the previous step's sample. So the host's planning, recording
 * and submission overlap the GPU's work instead of adding to every step's latency. A request
 * that finishes at step N has computed one token too many in step N+1; that token is dropped.
 */
export class Engine {
  private readonly states = new Map<string, RequestState>();
  private readonly detach = new Map<string, () => void>();
  private readonly freeSlots: number[];
  private loop: Promise<void> | undefined;
  private disposed = false;
  private readonly totals = { requests: 0, promptTokens: 0, generationTokens: 0, steps: 0, preemptions: 0 };

  constructor(private readonly p: EngineParts) {
    this.freeSlots = Array.from({ length: p.runner.limits.maxNumSeqs }, (_, i) => p.runner.limits.maxNumSeqs - 1 - i);
  }

  get tokenizer(): Tokenizer {
    return this.p.tokenizer;
  }

  get maxModelLen(): number {
    return this.p.maxModelLen;
  }

  get gpu(): GpuContext {
    return this.p.ctx;
  }

  /** Tokenizes (string) or checks (ids) a prompt and streams the generated tokens as events. */
  generate(prompt: string | readonly number[], params: GenerateParams = {}, opts: GenerateOptions = {}): AsyncIterable<GenerationEvent> {
    if (this.disposed) throw new WgllmError('invalid_argument', 'this engine was disposed; create a new one');
    this.p.ctx.assertAlive();
    const ids = typeof prompt === 'string' ? this.p.tokenizer.encode(prompt) : [...prompt];
    const requestId = opts.requestId ?? `req-${++nextId}`;
    if (this.states.has(requestId)) throw new RequestError(`request id '${requestId}' is already in use`);
    const { request, sampling, stop } = this.makeRequest(requestId, ids, params);
    const state = new RequestState(
      requestId,
      ids,
      sampling,
      this.p.tokenizer,
      stop,
      params.includeStopStrInOutput ?? false,
      params.skipSpecialTokens ?? true,
      () => this.abort(requestId),
    );
    if (opts.signal?.aborted) {
      state.finish('abort');
      return state.channel;
    }
    const signal = opts.signal;
    if (signal) {
      // Removed when the request ends, so a long-lived signal does not keep finished requests alive.
      const onAbort = () => this.abort(requestId);
      signal.addEventListener('abort', onAbort, { once: true });
      this.detach.set(requestId, () => signal.removeEventListener('abort', onAbort));
    }
    this.states.set(requestId, state);
    this.p.scheduler.addRequest(request);
    this.totals.requests++;
    this.totals.promptTokens += ids.length;
    this.ensureLoop();
    return state.channel;
  }

  private makeRequest(requestId: string, ids: number[], params: GenerateParams) {
    const vocab = this.p.runner.config.vocabSize;
    if (ids.length === 0) throw new RequestError('the prompt is empty', 400, 'prompt');
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= vocab) throw new RequestError(`prompt token id ${id} is outside the vocabulary (0..${vocab - 1})`, 400, 'prompt');
    }
    const room = this.p.maxModelLen - ids.length;
    if (room < 1) {
      throw new RequestError(
        `This model's maximum context length is ${this.p.maxModelLen} tokens; the prompt has ${ids.length}. Shorten the prompt.`,
        400,
        'messages',
        'context_length_exceeded',
      );
    }
    if (params.maxTokens !== undefined && (!Number.isInteger(params.maxTokens) || params.maxTokens < 1)) {
      throw new RequestError(`max_tokens must be a positive integer, got ${params.maxTokens}`, 400, 'max_tokens');
    }
    if (params.maxTokens !== undefined && params.maxTokens > room) {
      throw new RequestError(
        `max_tokens ${params.maxTokens} plus the prompt's ${ids.length} tokens exceed the context length ${this.p.maxModelLen}.`,
        400,
        'max_tokens',
        'context_length_exceeded',
      );
    }
    let sampling: ResolvedSampling;
    try {
      sampling = resolveSampling(params, vocab);
    } catch (e) {
      throw new RequestError((e as Error).message, 400);
    }
    const stop = params.stop === undefined ? [] : typeof params.stop === 'string' ? [params.stop] : [...params.stop];
    const eos = this.p.eosTokenIds;
    const request = new Request<EngineRequestParams>({
      requestId,
      promptTokenIds: ids,
      samplingParams: {
        maxTokens: params.maxTokens ?? room,
        ...(params.minTokens !== undefined ? { minTokens: params.minTokens } : {}),
        ...(params.ignoreEos ? { ignoreEos: true } : {}),
        // Every EOS id of the model stops (the scheduler checks one; the rest are stop tokens).
        stopTokenIds: [...(params.stopTokenIds ?? []), ...(params.ignoreEos ? [] : eos.slice(1))],
      },
      ...(eos[0] !== undefined ? { eosTokenId: eos[0] } : {}),
      ...(params.cacheSalt !== undefined ? { cacheSalt: params.cacheSalt } : {}),
    });
    return { request, sampling, stop };
  }

  /** Ends a request wherever it is; its KV blocks return to the pool at once. */
  abort(requestId: string): void {
    const state = this.states.get(requestId);
    if (!state) return;
    this.p.scheduler.finishRequests(requestId, RequestStatus.FINISHED_ABORTED);
    this.retire(state, 'FINISHED_ABORTED');
  }

  private forget(state: RequestState): void {
    this.states.delete(state.requestId);
    this.detach.get(state.requestId)?.();
    this.detach.delete(state.requestId);
  }

  private retire(state: RequestState, status: FinishedStatus, stop?: string | number): void {
    this.forget(state);
    this.releaseSlot(state);
    state.finish(finishReason(status), stop);
  }

  private releaseSlot(state: RequestState): void {
    if (state.slot >= 0) {
      this.freeSlots.push(state.slot);
      state.slot = -1;
    }
  }

  private ensureLoop(): void {
    if (this.loop) return;
    this.loop = this.runLoop().finally(() => {
      this.loop = undefined;
      if (!this.disposed && this.p.scheduler.hasUnfinishedRequests()) this.ensureLoop();
    });
  }

  private async runLoop(): Promise<void> {
    const overlap = this.p.scheduler.config.asyncScheduling;
    let inFlight: LaunchedStep | undefined;
    try {
      for (;;) {
        const next = !this.disposed && this.p.scheduler.hasUnfinishedRequests() ? await this.launch() : undefined;
        if (next && !overlap) {
          await this.complete(next);
          continue;
        }
        const done = inFlight;
        inFlight = next;
        if (done) await this.complete(done);
        else if (!next) break;
      }
    } catch (e) {
      // The step still in flight was launched for requests that now fail: free its readback.
      await inFlight?.readback?.read().catch(() => undefined);
      this.failAll(e);
    }
  }

  /** Fails every request (their blocks return to the pool); the engine stays usable if the device is. */
  private failAll(e: unknown): void {
    const err = e instanceof WgllmError ? e : new WgllmError('internal', `a step failed: ${(e as Error)?.message ?? e}`, { cause: e });
    for (const state of [...this.states.values()]) {
      this.p.scheduler.finishRequests(state.requestId, RequestStatus.FINISHED_ABORTED);
      this.forget(state);
      this.releaseSlot(state);
      state.fail(err);
    }
  }

  /** Schedules and submits one step; undefined when nothing could be scheduled. */
  private async launch(): Promise<LaunchedStep | undefined> {
    const { scheduler, runner, sampler, ctx } = this.p;
    const out = scheduler.schedule();
    for (const id of out.preempted) {
      const s = this.states.get(id);
      if (s) this.releaseSlot(s);
      this.totals.preemptions++;
    }
    if (out.scheduled.length === 0) return undefined;
    const plan = await this.planStep(out);
    runner.prepare(plan.step);
    sampler.prepare(plan.rows);
    sampler.prepareFeed(plan.feeds);
    // A long step (>= 128 tokens: a prompt chunk, or a large decode batch) goes in several
    // submissions (submitParts): the GPU starts on the first layers while the host records the
    // rest, instead of idling through all of the recording (from an idle queue that is the whole
    // host time of the step). H200, Llama-3.1-8B Q4_0, same call, two runs each, time to first
    // token at 512 / 2048 tokens: 56.2, 56.0 / 246.6, 244.6 ms in one submission, 54.7, 54.4 /
    // 240.7, 240.6 in two (the first a quarter of the layers); at 128 tokens 24.5, 42.6 against
    // 23.0, 23.4.
    const L = runner.config.numLayers;
    const ends = plan.step.tokenIds.length >= SPLIT_SUBMIT_TOKENS ? submitParts(L, SUBMIT_FIRST_LAYERS) : [L];
    let readback: SampleReadback | undefined;
    let from = 0;
    for (const to of ends) {
      // the feed before the first layer; the sampling and its readback after the last
      const enc = ctx.device.createCommandEncoder({ label: `step ${out.step} layers ${from}..${to}` });
      const pass = enc.beginComputePass({ label: to === L ? 'forward+sample' : 'forward' });
      if (from === 0 && plan.feeds.length) sampler.encodeFeed(pass, runner.inputIds);
      runner.encode(pass, { from, to });
      if (to === L && plan.rows.length) sampler.encode(pass, runner.logits);
      pass.end();
      if (to === L && plan.rows.length) readback = sampler.encodeReadback(enc);
      ctx.queue.submit([enc.finish()]);
      from = to;
    }
    this.totals.steps++;
    return { out, sampleIds: plan.sampleIds, readback };
  }

  /** Reads a launched step's tokens, applies them to the scheduler and streams them. */
  private async complete(launched: LaunchedStep): Promise<void> {
    const { scheduler } = this.p;
    const result = launched.readback ? await launched.readback.read() : undefined;
    const sampled = new Map<string, number[]>();
    const logprobs = new Map<string, TokenLogprob>();
    // Samples of requests finished or aborted since launch (their ids may be someone else's
    // now) go in too: the scheduler drops them, as it matches each step to its own Requests.
    launched.sampleIds.forEach((id, r) => {
      const token = result!.tokenIds[r]!;
      sampled.set(id, [token]);
      const lp = result!.logprobs?.[r];
      if (lp) {
        logprobs.set(id, {
          token,
          logprob: lp.logprob,
          top: Array.from(lp.topIds, (t, i) => ({ token: t, logprob: lp.topLogprobs[i]! })),
        });
      }
    });
    const upd = scheduler.updateFromOutput(launched.out, sampled);
    for (const u of upd.updates) {
      const state = this.states.get(u.requestId);
      if (!state || !u.newTokenIds.length) continue;
      this.totals.generationTokens += u.newTokenIds.length;
      const lp = logprobs.get(u.requestId);
      const stop = state.onTokens(u.newTokenIds, lp ? [lp] : undefined);
      if (stop !== undefined && !u.finishedStatus) {
        scheduler.finishRequests(u.requestId, RequestStatus.FINISHED_STOPPED);
        this.retire(state, RequestStatus.FINISHED_STOPPED, stop);
      }
    }
    for (const r of upd.finished) {
      const state = this.states.get(r.requestId);
      if (!state) continue;
      const last = r.outputTokenIds.at(-1);
      const byToken = r.status === RequestStatus.FINISHED_STOPPED ? last : undefined;
      this.retire(state, r.status as FinishedStatus, byToken);
    }
  }

  /** The runner's step and the sampler's rows for a scheduler output; admits new requests' slots. */
  private async planStep(out: SchedulerOutput) {
    const tokenIds: number[] = [];
    const positions: number[] = [];
    const seqs: { queryLen: number; seqLen: number; blockIds: readonly number[] }[] = [];
    const sampleRows: number[] = [];
    const rows: SamplingRow[] = [];
    const sampleIds: string[] = [];
    // (input row, sampler slot): inputs whose token the previous step sampled, still on the GPU
    const feeds: { dst: number; slot: number }[] = [];
    for (const s of out.scheduled) {
      const state = this.states.get(s.requestId);
      if (!state) throw new WgllmError('internal', `scheduled request ${s.requestId} has no engine state`);
      if (state.firstScheduled < 0) state.firstScheduled = performance.now();
      if (s.isNewRequest) {
        this.releaseSlot(state);
        const slot = this.freeSlots.pop();
        if (slot === undefined) throw new WgllmError('internal', 'no free sampler slot although the scheduler admitted a request');
        state.slot = slot;
        const req = this.p.scheduler.getRequest(s.requestId)!;
        if (req.numCachedTokens > 0) state.cachedTokens = req.numCachedTokens;
        await this.p.sampler.admit(slot, state.sampling, state.promptTokenIds, req.outputTokenIds);
      }
      const start = tokenIds.length;
      for (let i = 0; i < s.numScheduledTokens; i++) {
        if (i >= s.tokenIds.length) feeds.push({ dst: tokenIds.length, slot: state.slot });
        tokenIds.push(i < s.tokenIds.length ? s.tokenIds[i]! : 0);
        positions.push(s.numComputedTokensBefore + i);
      }
      seqs.push({ queryLen: s.numScheduledTokens, seqLen: s.numComputedTokensBefore + s.numScheduledTokens, blockIds: s.blockIds });
      // A request aborted while this step was being planned still has its tokens computed (the
      // scheduler already counted them) but samples nothing: its slot may be reused already.
      if (s.samplesThisStep && this.states.get(s.requestId) === state) {
        sampleRows.push(start + s.numScheduledTokens - 1);
        // The RNG counter: outputs before this one, in flight ones included.
        const req = this.p.scheduler.getRequest(s.requestId)!;
        rows.push({ slot: state.slot, params: state.sampling, step: req.numOutputTokens + req.numOutputPlaceholders - 1 });
        sampleIds.push(s.requestId);
      }
    }
    return { step: { tokenIds, positions, seqs, sampleRows }, rows, sampleIds, feeds };
  }

  stats(): EngineStats {
    const s = this.p.scheduler;
    const pc = s.prefixCacheStats;
    return {
      numRunning: s.numRunning,
      numWaiting: s.numWaiting,
      kvCacheUsage: s.kvCacheUsage,
      numKvBlocks: this.p.runner.numBlocks,
      prefixCache: { queries: pc.queries, hits: pc.hits, hitRate: pc.queries ? pc.hits / pc.queries : 0 },
      totals: { ...this.totals },
    };
  }

  /** Aborts every request, waits for the step in flight, and frees all GPU memory. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    for (const id of [...this.states.keys()]) this.abort(id);
    this.disposed = true;
    await this.loop?.catch(() => undefined);
    this.p.sampler.destroy();
    this.p.runner.dispose();
    await this.p.onDispose?.();
  }
}
