import { check } from '../core/errors.js';

export interface SchedulerConfig {
  /** Token budget of one step, summed over all scheduled requests. */
  readonly maxNumBatchedTokens: number;
  /** Most requests running (holding KV blocks) at once. */
  readonly maxNumSeqs: number;
  readonly blockSize: number;
  /** Physical KV blocks, including the reserved null block 0. */
  readonly numBlocks: number;
  readonly enablePrefixCaching: boolean;
  /**
   * Caps the tokens one request gets per step so that several long prompts share a step instead
   * of one taking the whole budget; 0 or absent: no cap. Applies only with chunked prefill.
   */
  readonly longPrefillTokenThreshold?: number | undefined;
  /** Split prompts across steps to fit the budget (default true). */
  readonly enableChunkedPrefill?: boolean | undefined;
  /**
   * Longest sequence (prompt + outputs); default and maximum (numBlocks - 1) * blockSize, so that
   * any single request fits the pool alone and preemption always ends.
   */
  readonly maxModelLen?: number | undefined;
  /**
   * Schedule step N+1 before step N's sampled tokens are known (default false). A request whose
   * token is still on the GPU gets that token as a placeholder input, which the caller feeds
   * on the GPU from the previous step's sample; so the host plans and records the next step
   * while the GPU runs this one. The caller then alternates schedule(N+1) and
   * updateFromOutput(N), with at most one step whose update is outstanding.
   */
  readonly asyncScheduling?: boolean | undefined;
}

export type ResolvedSchedulerConfig = { readonly [K in keyof SchedulerConfig]-?: Exclude<SchedulerConfig[K], undefined> };

function checkPositiveInt(name: string, v: number): void {
  check(Number.isInteger(v) && v >= 1, `${name} must be a positive integer, got ${v}`);
}

/** Fills the defaults and rejects configs under which some request could never finish. */
export function resolveSchedulerConfig(config: SchedulerConfig): ResolvedSchedulerConfig {
  checkPositiveInt('maxNumBatchedTokens', config.maxNumBatchedTokens);
  checkPositiveInt('maxNumSeqs', config.maxNumSeqs);
  checkPositiveInt('blockSize', config.blockSize);
  check(Number.isInteger(config.numBlocks) && config.numBlocks >= 2, `numBlocks must be an integer >= 2 (block 0 is reserved), got ${config.numBlocks}`);
  const capacity = (config.numBlocks - 1) * config.blockSize;
  const maxModelLen = config.maxModelLen ?? capacity;
  checkPositiveInt('maxModelLen', maxModelLen);
  check(maxModelLen <= capacity, `maxModelLen ${maxModelLen} exceeds the KV cache (${config.numBlocks - 1} blocks x ${config.blockSize} tokens = ${capacity}): add blocks or lower maxModelLen`);
  const longPrefillTokenThreshold = config.longPrefillTokenThreshold ?? 0;
  check(Number.isInteger(longPrefillTokenThreshold) && longPrefillTokenThreshold >= 0, `longPrefillTokenThreshold must be an integer >= 0, got ${longPrefillTokenThreshold}`);
  const enableChunkedPrefill = config.enableChunkedPrefill ?? true;
  check(
    enableChunkedPrefill || config.maxNumBatchedTokens >= maxModelLen,
    `without chunked prefill maxNumBatchedTokens (${config.maxNumBatchedTokens}) must be >= maxModelLen (${maxModelLen}), or a long prompt never fits a step`,
  );
  return {
    maxNumBatchedTokens: config.maxNumBatchedTokens,
    maxNumSeqs: config.maxNumSeqs,
    blockSize: config.blockSize,
    numBlocks: config.numBlocks,
    enablePrefixCaching: config.enablePrefixCaching,
    longPrefillTokenThreshold,
    enableChunkedPrefill,
    maxModelLen,
    asyncScheduling: config.asyncScheduling ?? false,
  };
}
