import { WgllmError, check } from '../core/errors.js';
import { KVCacheManager } from '../kv/kv-cache-manager.js';
import type { PrefixCacheStats } from '../kv/kv-cache-manager.js';
import { resolveSchedulerConfig } from './config.js';
import type { ResolvedSchedulerConfig, SchedulerConfig } from './config.js';
import type { RequestUpdate, ScheduledRequest, SchedulerOutput, SchedulerUpdate } from './output.js';
import { RequestStatus, isFinishedStatus } from './request.js';
import type { FinishedStatus, Request, StopParams } from './request.js';
import { checkStop } from './stop.js';
import type { StopChecker } from './stop.js';

/** The state of one schedule() call while it is being built. */
interface StepState<P extends StopParams> {
  tokenBudget: number;
  readonly scheduled: ScheduledRequest[];
  /** the Requests of the entries of `scheduled` that sample, in order */
  readonly samplers: Request<P>[];
  readonly preempted: string[];
}

/**
 * Continuous batching over a paged KV cache, after vLLM V1's scheduler. Each step: running
 * requests first, each given the tokens it still needs within the token budget; then waiting
 * requests in FCFS order while budget, maxNumSeqs and blocks allow. Long prompts are chunked;
 * prefix-cache hits skip their computed blocks; when blocks run out, the most recently admitted
 * running request is preempted by recompute. Not re-entrant. Synchronous use: schedule, run,
 * updateFromOutput. With `asyncScheduling` the caller may schedule step N+1 before updating from
 * step N: a request whose sampled token is still in flight (a placeholder) is scheduled one more
 * token at that placeholder's position, unless it will certainly stop there by length.
 */
export class Scheduler<P extends StopParams = StopParams> {
  readonly config: ResolvedSchedulerConfig;
  readonly kvCacheManager: KVCacheManager;
  private readonly requests = new Map<string, Request<P>>();
  // Arrays: queues are short (maxNumSeqs-ish) and shift/unshift keep the code obvious.
  private readonly waiting: Request<P>[] = [];
  private running: Request<P>[] = [];
  private finishedSinceLastStep: string[] = [];
  private nextArrivalOrder = 0;
  private nextStep = 0;
  // The requests each scheduled step samples for, by step number, until its update: an update
  // must reach the very Request it was scheduled for, not a later one that reuses its id.
  private readonly stepSamplers = new Map<number, Request<P>[]>();

  constructor(config: SchedulerConfig) {
    this.config = resolveSchedulerConfig(config);
    this.kvCacheManager = new KVCacheManager(this.config);
  }

  addRequest(request: Request<P>): void {
    check(!this.requests.has(request.requestId), `request id ${request.requestId} is already in use`);
    check(request.status === RequestStatus.WAITING && request.numComputedTokens === 0, `request ${request.requestId} was already scheduled once`);
    check(
      request.numTokens <= this.config.maxModelLen,
      `request ${request.requestId}: ${request.numTokens} prompt tokens exceed maxModelLen ${this.config.maxModelLen}; shorten the prompt`,
    );
    request.arrivalOrder = this.nextArrivalOrder++;
    this.requests.set(request.requestId, request);
    this.waiting.push(request);
  }

  getRequest(requestId: string): Request<P> | undefined {
    return this.requests.get(requestId);
  }

  get numWaiting(): number {
    return this.waiting.length;
  }

  get numRunning(): number {
    return this.running.length;
  }

  hasUnfinishedRequests(): boolean {
    return this.requests.size > 0;
  }

  /** Fraction of KV blocks in use, in [0, 1]. */
  get kvCacheUsage(): number {
    return this.kvCacheManager.usage;
  }

  get prefixCacheStats(): PrefixCacheStats {
    return this.kvCacheManager.prefixCacheStats;
  }

  /** Decides the next step. Advances numComputedTokens of what it schedules. */
  schedule(): SchedulerOutput {
    const step: StepState<P> = { tokenBudget: this.config.maxNumBatchedTokens, scheduled: [], samplers: [], preempted: [] };
    this.scheduleRunning(step);
    // A preemption means memory is short: admitting anyone now would only thrash.
    if (step.preempted.length === 0) this.scheduleWaiting(step);
    const finished = this.finishedSinceLastStep;
    this.finishedSinceLastStep = [];
    this.stepSamplers.set(this.nextStep, step.samplers);
    return {
      step: this.nextStep++,
      scheduled: step.scheduled,
      numBatchedTokens: this.config.maxNumBatchedTokens - step.tokenBudget,
      preempted: step.preempted,
      finished,
    };
  }

  /**
   * Appends each sampled token to the request it belongs to (only requests whose chunk reached
   * the end of their tokens sample), applies the stop checks (built-in, then `extraStop`), and
   * frees finished requests. Tokens for requests aborted meanwhile are dropped.
   */
  updateFromOutput(
    output: SchedulerOutput,
    sampledTokenIds: ReadonlyMap<string, readonly number[]>,
    extraStop?: StopChecker<P>,
  ): SchedulerUpdate<Request<P>> {
    const updates: RequestUpdate[] = [];
    const finished: Request<P>[] = [];
    const samplers = this.stepSamplers.get(output.step);
    check(samplers !== undefined, `step ${output.step} was not scheduled by this scheduler or was already updated`);
    this.dropUpdatesBefore(output.step);
    for (const request of samplers) {
      // Finished (retired) meanwhile, maybe with its id already reused: the sample is dropped.
      if (this.requests.get(request.requestId) !== request) continue;
      request.numOutputPlaceholders--;
      const sampled = sampledTokenIds.get(request.requestId);
      // A request preempted while this step ran keeps its token: its recompute includes it.
      const live = request.status === RequestStatus.RUNNING || request.status === RequestStatus.PREEMPTED;
      if (!live || sampled === undefined || sampled.length === 0) continue;
      const newTokenIds = this.appendSampled(request, sampled, extraStop);
      if (request.status === RequestStatus.RUNNING) this.kvCacheManager.cacheFullBlocks(request, request.numComputedTokens);
      const finishedStatus = isFinishedStatus(request.status) ? request.status : null;
      updates.push({ requestId: request.requestId, newTokenIds, finishedStatus });
      if (finishedStatus !== null) finished.push(request);
    }
    for (const request of finished) this.retire(request);
    return { updates, finished };
  }

  /** Forgets the steps up to `step`; the samples of earlier steps never updated are lost. */
  private dropUpdatesBefore(step: number): void {
    for (const [k, samplers] of this.stepSamplers) {
      if (k > step) continue;
      this.stepSamplers.delete(k);
      if (k < step) for (const r of samplers) r.numOutputPlaceholders = Math.max(0, r.numOutputPlaceholders - 1);
    }
  }

  /** Finishes requests wherever they are (waiting, running, preempted) and frees their blocks;
   * unknown or already finished ids are ignored, so an abort may race with a normal finish. */
  finishRequests(requestIds: string | Iterable<string>, status: FinishedStatus): void {
    check(isFinishedStatus(status), `finishRequests needs a FINISHED_* status, got ${status}`);
    const ids = typeof requestIds === 'string' ? [requestIds] : requestIds;
    for (const id of ids) {
      const request = this.requests.get(id);
      if (request === undefined) continue;
      request.status = status;
      this.retire(request);
    }
  }

  private scheduleRunning(step: StepState<P>): void {
    for (let i = 0; i < this.running.length && step.tokenBudget > 0; i++) {
      const request = this.running[i]!;
      const pending = this.schedulablePlaceholders(request);
      const numNewTokens = this.numTokensToSchedule(request, request.numComputedTokens, step.tokenBudget, pending);
      if (numNewTokens === 0) continue; // waits for its sampled token
      const newBlockIds = this.allocateOrPreempt(request, numNewTokens, step);
      if (newBlockIds === null) return; // it preempted itself: it was the last one running
      this.commit(step, request, numNewTokens, newBlockIds, false);
    }
  }

  private scheduleWaiting(step: StepState<P>): void {
    while (this.waiting.length > 0 && step.tokenBudget > 0 && this.running.length < this.config.maxNumSeqs) {
      const request = this.waiting[0]!;
      // Preempted with a token still in flight: readmit once it is known, so that its sampler
      // state (penalties) is rebuilt from complete outputs. FCFS: nobody overtakes it.
      if (request.numOutputPlaceholders > 0) return;
      const hit = this.kvCacheManager.getComputedBlocks(request);
      const numNewTokens = this.numTokensToSchedule(request, hit.numComputedTokens, step.tokenBudget, 0);
      if (numNewTokens === 0) return; // does not fit unchunked; FCFS: nobody overtakes it
      const newBlockIds = this.kvCacheManager.allocateSlots(request, numNewTokens, hit);
      if (newBlockIds === null) return; // out of blocks; FCFS again
      this.waiting.shift();
      this.running.push(request);
      request.status = RequestStatus.RUNNING;
      request.numComputedTokens = hit.numComputedTokens;
      if (request.numCachedTokens < 0) request.numCachedTokens = hit.numComputedTokens;
      this.commit(step, request, numNewTokens, newBlockIds, true);
    }
  }

  /** Tokens to give a request starting at `numComputedTokens`: all it lacks (known tokens plus
   * `placeholders`), capped by the long-prefill threshold and the budget; 0 when it lacks none or
   * cannot be split to fit. */
  private numTokensToSchedule(request: Request<P>, numComputedTokens: number, tokenBudget: number, placeholders: number): number {
    let n = request.numTokens + placeholders - numComputedTokens;
    const { enableChunkedPrefill, longPrefillTokenThreshold } = this.config;
    if (!enableChunkedPrefill) return n <= tokenBudget ? n : 0;
    if (longPrefillTokenThreshold > 0) n = Math.min(n, longPrefillTokenThreshold);
    return Math.min(n, tokenBudget);
  }

  /** In-flight tokens that may be scheduled now (async scheduling only): none when the request
   * stops by length at them, so no step computes past maxTokens or maxModelLen. */
  private schedulablePlaceholders(request: Request<P>): number {
    const pending = request.numOutputPlaceholders;
    if (!this.config.asyncScheduling || pending === 0) return 0;
    const stopsByLength = request.numOutputTokens + pending >= request.samplingParams.maxTokens || request.numTokens + pending >= this.config.maxModelLen;
    return stopsByLength ? 0 : pending;
  }

  /** allocateSlots, preempting the most recently admitted running request until it succeeds;
   * null when the victim was `request` itself. */
  private allocateOrPreempt(request: Request<P>, numNewTokens: number, step: StepState<P>): number[] | null {
    for (;;) {
      const newBlockIds = this.kvCacheManager.allocateSlots(request, numNewTokens);
      if (newBlockIds !== null) return newBlockIds;
      const victim = this.running.pop();
      if (victim === undefined) throw new WgllmError('internal', `request ${request.requestId} is not running`);
      this.preempt(victim);
      step.preempted.push(victim.requestId);
      if (victim === request) return null;
    }
  }

  /** Preemption by recompute: drop the KV, restart from token 0 at the head of the queue. With
   * prefix caching its freed full blocks usually survive, so the recompute is mostly hits. */
  private preempt(request: Request<P>): void {
    this.kvCacheManager.free(request);
    request.status = RequestStatus.PREEMPTED;
    request.numComputedTokens = 0;
    request.numPreemptions++;
    this.waiting.unshift(request);
  }

  private commit(step: StepState<P>, request: Request<P>, numNewTokens: number, newBlockIds: number[], isNewRequest: boolean): void {
    const before = request.numComputedTokens;
    const after = before + numNewTokens;
    const samplesThisStep = after === request.numTokens + request.numOutputPlaceholders;
    step.scheduled.push({
      requestId: request.requestId,
      numScheduledTokens: numNewTokens,
      numComputedTokensBefore: before,
      tokenIds: request.allTokenIds.slice(before, after),
      blockIds: this.kvCacheManager.getBlockIds(request.requestId),
      newBlockIds,
      isNewRequest,
      samplesThisStep,
    });
    request.numComputedTokens = after;
    if (samplesThisStep) {
      step.samplers.push(request);
      request.numOutputPlaceholders++;
    }
    step.tokenBudget -= numNewTokens;
  }

  private appendSampled(request: Request<P>, sampled: readonly number[], extraStop: StopChecker<P> | undefined): number[] {
    const appended: number[] = [];
    for (const tokenId of sampled) {
      request.appendOutputTokenId(tokenId);
      appended.push(tokenId);
      const status = checkStop(request, this.config.maxModelLen);
      if (status !== null) {
        request.status = status;
        return appended;
      }
    }
    const status = extraStop?.(request, appended) ?? null;
    if (status !== null) request.status = status;
    return appended;
  }

  /** Removes a finished request from every queue and returns its blocks to the pool. */
  private retire(request: Request<P>): void {
    if (!this.requests.delete(request.requestId)) return;
    this.running = this.running.filter((r) => r !== request);
    const w = this.waiting.indexOf(request);
    if (w >= 0) this.waiting.splice(w, 1);
    this.kvCacheManager.free(request);
    this.finishedSinceLastStep.push(request.requestId);
  }
}
