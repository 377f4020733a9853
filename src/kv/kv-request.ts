/**
 * What the KV layer needs to know about a request. The scheduler's `Request` satisfies it; the
 * KV layer never imports the scheduler (imports point down the layers only).
 */
export interface KVRequest {
  readonly requestId: string;
  /** Prompt token ids followed by the output token ids sampled so far. */
  readonly allTokenIds: readonly number[];
  /** `allTokenIds.length`. */
  readonly numTokens: number;
  /** Sampled tokens not yet in allTokenIds (in flight on the GPU); their slots may be allocated. */
  readonly numOutputPlaceholders?: number | undefined;
  /** Tokens whose KV is (or is being, this step) written into the request's blocks. */
  readonly numComputedTokens: number;
  /** Isolates prefix-cache sharing: blocks are shared only between equal salts (e.g. per tenant). */
  readonly cacheSalt?: string | undefined;
  /** True when the request must compute every token itself (e.g. it wants prompt logprobs). */
  readonly skipPrefixCache?: boolean | undefined;
}
