import { RequestStatus } from './request.js';
import type { FinishedStatus, Request, StopParams } from './request.js';

/**
 * An extra stop check the engine supplies (stop strings need the detokenizer, which the
 * scheduler does not have). Called once per update with the tokens just appended.
 */
export type StopChecker<P extends StopParams> = (request: Request<P>, newTokenIds: readonly number[]) => FinishedStatus | null;

/**
 * The token-level stop conditions, checked after each appended token. Length comes first, as in
 * vLLM, so the finish reasons match its reference outputs.
 */
export function checkStop<P extends StopParams>(request: Request<P>, maxModelLen: number): FinishedStatus | null {
  const params = request.samplingParams;
  if (request.numOutputTokens >= params.maxTokens || request.numTokens >= maxModelLen) {
    return RequestStatus.FINISHED_LENGTH_CAPPED;
  }
  if (request.numOutputTokens < (params.minTokens ?? 0)) return null;
  const last = request.lastTokenId;
  const isEos = params.ignoreEos !== true && request.eosTokenId !== undefined && last === request.eosTokenId;
  if (isEos || (params.stopTokenIds?.includes(last) ?? false)) {
    request.stopTokenId = last;
    return RequestStatus.FINISHED_STOPPED;
  }
  return null;
}
