import { check } from '../core/errors.js';
import type { KVRequest } from '../kv/kv-request.js';

export const RequestStatus = {
  WAITING: 'WAITING',
  RUNNING: 'RUNNING',
  /** Evicted by recompute: back in the waiting queue, numComputedTokens reset to 0. */
  PREEMPTED: 'PREEMPTED',
  /** Hit EOS or a stop token (or the engine's own stop check, e.g. a stop string). */
  FINISHED_STOPPED: 'FINISHED_STOPPED',
  /** Reached maxTokens or maxModelLen. */
  FINISHED_LENGTH_CAPPED: 'FINISHED_LENGTH_CAPPED',
  FINISHED_ABORTED: 'FINISHED_ABORTED',
  /** Refused without running (e.g. the engine judged it impossible). */
  FINISHED_IGNORED: 'FINISHED_IGNORED',
} as const;
export type RequestStatus = (typeof RequestStatus)[keyof typeof RequestStatus];
export type FinishedStatus = Extract<RequestStatus, `FINISHED_${string}`>;

export function isFinishedStatus(status: RequestStatus): status is FinishedStatus {
  return status.startsWith('FINISHED_');
}

/** The OpenAI-style finish_reason of a finished status. */
export function finishReason(status: FinishedStatus): 'stop' | 'length' | 'abort' {
  switch (status) {
    case 'FINISHED_STOPPED':
      return 'stop';
    case 'FINISHED_LENGTH_CAPPED':
    case 'FINISHED_IGNORED':
      return 'length';
    case 'FINISHED_ABORTED':
      return 'abort';
  }
}

/**
 * The part of the sampling parameters the scheduler reads (its token-level stop checks). The
 * engine's full sampling params extend this; the scheduler carries them as an opaque `P`.
 */
export interface StopParams {
  readonly maxTokens: number;
  /** EOS and stop tokens are ignored until this many output tokens exist. */
  readonly minTokens?: number | undefined;
  readonly ignoreEos?: boolean | undefined;
  readonly stopTokenIds?: readonly number[] | undefined;
}

export interface RequestInit<P extends StopParams> {
  readonly requestId: string;
  readonly promptTokenIds: readonly number[];
  readonly samplingParams: P;
  /** The model's end-of-sequence token, if it has one. */
  readonly eosTokenId?: number | undefined;
  readonly cacheSalt?: string | undefined;
  readonly skipPrefixCache?: boolean | undefined;
  /** The engine's clock at arrival, for latency metrics; ordering uses `arrivalOrder`. */
  readonly arrivalTime?: number | undefined;
}

/**
 * One generation request as the scheduler sees it. There is no prefill or decode mode:
 * `numComputedTokens` catches up with `numTokens` (prompt plus outputs) in chunks.
 */
export class Request<P extends StopParams = StopParams> implements KVRequest {
  readonly requestId: string;
  readonly samplingParams: P;
  readonly eosTokenId: number | undefined;
  readonly cacheSalt: string | undefined;
  readonly skipPrefixCache: boolean;
  readonly arrivalTime: number;
  readonly numPromptTokens: number;
  status: RequestStatus = RequestStatus.WAITING;
  /** Tokens whose KV is written (advanced when a step is scheduled, like vLLM V1). */
  numComputedTokens = 0;
  /**
   * Tokens sampled by steps in flight and not yet appended: scheduled steps whose samples the
   * caller has not passed to updateFromOutput. Their positions follow allTokenIds.
   */
  numOutputPlaceholders = 0;
  /** FCFS position, set by Scheduler.addRequest; -1 before. */
  arrivalOrder = -1;
  numPreemptions = 0;
  /** Prompt tokens served from the prefix cache at first admission; -1 before admission. */
  numCachedTokens = -1;
  /** The EOS or stop token that finished the request, if one did. */
  stopTokenId: number | null = null;
  // Prompt then outputs in one array, the form the KV layer hashes and the runner slices.
  private readonly tokens: number[];

  constructor(init: RequestInit<P>) {
    const { requestId, promptTokenIds, samplingParams } = init;
    check(promptTokenIds.length > 0, `request ${requestId}: the prompt is empty`);
    for (const t of promptTokenIds) checkTokenId(t, requestId);
    check(Number.isInteger(samplingParams.maxTokens) && samplingParams.maxTokens >= 1, `request ${requestId}: maxTokens must be a positive integer, got ${samplingParams.maxTokens}`);
    this.requestId = requestId;
    this.samplingParams = samplingParams;
    this.eosTokenId = init.eosTokenId;
    this.cacheSalt = init.cacheSalt;
    this.skipPrefixCache = init.skipPrefixCache ?? false;
    this.arrivalTime = init.arrivalTime ?? 0;
    this.numPromptTokens = promptTokenIds.length;
    this.tokens = [...promptTokenIds];
  }

  get allTokenIds(): readonly number[] {
    return this.tokens;
  }

  get promptTokenIds(): readonly number[] {
    return this.tokens.slice(0, this.numPromptTokens);
  }

  get outputTokenIds(): readonly number[] {
    return this.tokens.slice(this.numPromptTokens);
  }

  get numTokens(): number {
    return this.tokens.length;
  }

  get numOutputTokens(): number {
    return this.tokens.length - this.numPromptTokens;
  }

  get lastTokenId(): number {
    return this.tokens[this.tokens.length - 1]!;
  }

  get isFinished(): boolean {
    return isFinishedStatus(this.status);
  }

  appendOutputTokenId(tokenId: number): void {
    checkTokenId(tokenId, this.requestId);
    this.tokens.push(tokenId);
  }
}

function checkTokenId(t: number, requestId: string): void {
  // Token ids are hashed as u32 by the prefix cache. (The message is built only on failure:
  // this runs for every prompt token.)
  if (!(Number.isInteger(t) && t >= 0 && t <= 0xffffffff)) check(false, `request ${requestId}: bad token id ${t}`);
}
