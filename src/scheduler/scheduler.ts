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
interface StepState {
  tokenBudget: number;
  readonly scheduled: ScheduledRequest[];
  readonly preempted: string[];
}

/**
 * Continuous batching over a paged KV cache, after vLLM V1's scheduler. Each step: running
 * requests first, each given the tokens it still needs within the token budget; then waiting
 * requests in FCFS order while budget, maxNumSeqs and blocks allow. Long prompts are chunked;
 * prefix-cache hits skip their computed blocks; when blocks run out, the most recently admitted
 * running request is preempted by recompute. Not re-entrant: one step in flight at a time
 * (schedule, run, updateFromOutput).
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
    const step: StepState = { tokenBudget: this.config.maxNumBatchedTokens, scheduled: [], preempted: [] };
    this.scheduleRunning(step);
    // A preemption means memory is short: admitting anyone now would only thrash.
    if (step.preempted.length === 0) this.scheduleWaiting(step);
    const finished = this.finishedSinceLastStep;
    this.finishedSinceLastStep = [];
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
    for (const s of output.scheduled) {
      const request = this.requests.get(s.requestId);
      const sampled = sampledTokenIds.get(s.requestId);
      if (!s.samplesThisStep || request?.status !== RequestStatus.RUNNING || sampled === undefined || sampled.length === 0) continue;
      const newTokenIds = this.appendSampled(request, sampled, extraStop);
      const finishedStatus = isFinishedStatus(request.status) ? request.status : null;
      updates.push({ requestId: request.requestId, newTokenIds, finishedStatus });
      if (finishedStatus !== null) finished.push(request);
    }
    for (const request of finished) this.retire(request);
    return { updates, finished };
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

  private scheduleRunning(step: StepState): void {
    for (let i = 0; i < this.running.length && step.tokenBudget > 0; i++) {
      const request = this.running[i]!;
      const numNewTokens = this.numTokensToSchedule(request, request.numComputedTokens, step.tokenBudget);
      if (numNewTokens === 0) continue; // waits for its sampled token
      const newBlockIds = this.allocateOrPreempt(request, numNewTokens, step);
      if (newBlockIds === null) return; // it preempted itself: it was the last one running
      this.commit(step, request, numNewTokens, newBlockIds, false);
    }
  }

  private scheduleWaiting(step: StepState): void {
    while (this.waiting.length > 0 && step.tokenBudget > 0 && this.running.length < this.config.maxNumSeqs) {
      const request = this.waiting[0]!;
      const hit = this.kvCacheManager.getComputedBlocks(request);
      const numNewTokens = this.numTokensToSchedule(request, hit.numComputedTokens, step.tokenBudget);
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

  /** Tokens to give a request starting at `numComputedTokens`: all it lacks, capped by the long-
   * prefill threshold and the budget; 0 when it lacks none or cannot be split to fit. */
  private numTokensToSchedule(request: Request<P>, numComputedTokens: number, tokenBudget: number): number {
    let n = request.numTokens - numComputedTokens;
    const { enableChunkedPrefill, longPrefillTokenThreshold } = this.config;
    if (!enableChunkedPrefill) return n <= tokenBudget ? n : 0;
    if (longPrefillTokenThreshold > 0) n = Math.min(n, longPrefillTokenThreshold);
    return Math.min(n, tokenBudget);
  }

  /** allocateSlots, preempting the most recently admitted running request until it succeeds;
   * null when the victim was `request` itself. */
  private allocateOrPreempt(request: Request<P>, numNewTokens: number, step: StepState): number[] | null {
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

  private commit(step: StepState, request: Request<P>, numNewTokens: number, newBlockIds: number[], isNewRequest: boolean): void {
    const before = request.numComputedTokens;
    const after = before + numNewTokens;
    step.scheduled.push({
      requestId: request.requestId,
      numScheduledTokens: numNewTokens,
      numComputedTokensBefore: before,
      tokenIds: request.allTokenIds.slice(before, after),
      blockIds: this.kvCacheManager.getBlockIds(request.requestId),
      newBlockIds,
      isNewRequest,
      samplesThisStep: after === request.numTokens,
    });
    request.numComputedTokens = after;
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
