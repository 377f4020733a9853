import type { FinishedStatus } from './request.js';

/** One request's share of a step. Plain data: the model runner needs no Request object. */
export interface ScheduledRequest {
  readonly requestId: string;
  readonly numScheduledTokens: number;
  /** Position of the first scheduled token (tokens before it already have KV). */
  readonly numComputedTokensBefore: number;
  /** The scheduled tokens: allTokenIds[numComputedTokensBefore, + numScheduledTokens). */
  readonly tokenIds: readonly number[];
  /** The full block table after this step's allocation. */
  readonly blockIds: readonly number[];
  /** Blocks added this step (a suffix of blockIds). */
  readonly newBlockIds: readonly number[];
  /** First step since admission or re-admission after preemption: the runner (re)builds its state. */
  readonly isNewRequest: boolean;
  /**
   * The chunk reaches the end of the request's tokens, so its last logits are sampled. False for
   * a prefill chunk that leaves prompt tokens for later steps: its sample is discarded.
   */
  readonly samplesThisStep: boolean;
}

/** What Scheduler.schedule() decided for one step. */
export interface SchedulerOutput {
  /** 0, 1, 2... per schedule() call. */
  readonly step: number;
  /** Running requests first (admission order), then newly admitted ones (FCFS). */
  readonly scheduled: readonly ScheduledRequest[];
  /** Sum of numScheduledTokens; <= maxNumBatchedTokens. */
  readonly numBatchedTokens: number;
  /** Preempted during this call: their blocks are freed, the runner drops their state. */
  readonly preempted: readonly string[];
  /** Finished (or aborted) since the previous schedule() call: the runner drops their state. */
  readonly finished: readonly string[];
}

/** What one step's sampled tokens did to one request. */
export interface RequestUpdate {
  readonly requestId: string;
  /** Tokens appended to the request (stops early, at a stop token). */
  readonly newTokenIds: readonly number[];
  readonly finishedStatus: FinishedStatus | null;
}

export interface SchedulerUpdate<R> {
  readonly updates: readonly RequestUpdate[];
  /** Requests that finished in this update; their KV blocks are already freed. */
  readonly finished: readonly R[];
}
