import { Request } from '../../src/scheduler/request.js';
import type { StopParams } from '../../src/scheduler/request.js';
import type { Scheduler } from '../../src/scheduler/scheduler.js';
import type { SchedulerOutput, SchedulerUpdate } from '../../src/scheduler/output.js';

export const range = (start: number, n: number): number[] => Array.from({ length: n }, (_, i) => start + i);

export function makeRequest(
  requestId: string,
  promptTokenIds: number[],
  samplingParams: StopParams = { maxTokens: 4 },
  extra: { eosTokenId?: number; cacheSalt?: string } = {},
): Request {
  return new Request({ requestId, promptTokenIds, samplingParams, ...extra });
}

/** One engine step with a fake model that samples `token(requestId)` for each sampling request. */
export function step(
  s: Scheduler,
  token: (requestId: string) => number = () => 1,
): { out: SchedulerOutput; update: SchedulerUpdate<Request> } {
  const out = s.schedule();
  const sampled = new Map(out.scheduled.filter((r) => r.samplesThisStep).map((r) => [r.requestId, [token(r.requestId)]]));
  return { out, update: s.updateFromOutput(out, sampled) };
}

/** Compact view of a step: [requestId, numComputedTokensBefore, numScheduledTokens]. */
export const summary = (out: SchedulerOutput): [string, number, number][] =>
  out.scheduled.map((r) => [r.requestId, r.numComputedTokensBefore, r.numScheduledTokens]);
