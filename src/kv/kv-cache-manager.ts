import { WgllmError, check } from '../core/errors.js';
import { BlockPool } from './block-pool.js';
import type { KVCacheBlock } from './kv-cache-block.js';
import type { KVRequest } from './kv-request.js';
import { PrefixCache } from './prefix-cache.js';

export interface KVCacheConfig {
  /** Physical blocks, including the reserved null block 0. */
  readonly numBlocks: number;
  /** Tokens per block. */
  readonly blockSize: number;
  readonly enablePrefixCaching: boolean;
}

/** A prefix-cache hit: blocks to share and the tokens they cover (a multiple of blockSize). */
export interface ComputedBlocks {
  readonly blocks: readonly KVCacheBlock[];
  readonly numComputedTokens: number;
}

/** Cumulative prefix-cache counters; `queries` and `hits` are in tokens. */
export interface PrefixCacheStats {
  /** Admissions that looked the cache up (a preempted request counts again on re-admission). */
  readonly requests: number;
  /** Prompt (+ output, after preemption) tokens looked up. */
  readonly queries: number;
  /** Of those, tokens served from the cache. */
  readonly hits: number;
}

const NO_HIT: ComputedBlocks = { blocks: [], numComputedTokens: 0 };

/**
 * Per-request block tables over one BlockPool. The scheduler asks it for cache hits, then for
 * slots for the tokens it schedules; a `null` from allocateSlots means "out of blocks, preempt
 * someone and retry". Every block a request holds goes back through `free`.
 */
export class KVCacheManager {
  readonly blockSize: number;
  readonly enablePrefixCaching: boolean;
  readonly pool: BlockPool;
  private readonly prefixCache: PrefixCache;
  private readonly blocksByRequest = new Map<string, KVCacheBlock[]>();
  // How many leading blocks of each request are already in the prefix cache.
  private readonly numCachedBlocksByRequest = new Map<string, number>();
  private stats = { requests: 0, queries: 0, hits: 0 };

  constructor(config: KVCacheConfig) {
    check(Number.isInteger(config.blockSize) && config.blockSize >= 1, `blockSize must be a positive integer, got ${config.blockSize}`);
    this.blockSize = config.blockSize;
    this.enablePrefixCaching = config.enablePrefixCaching;
    this.pool = new BlockPool(config.numBlocks, config.enablePrefixCaching);
    this.prefixCache = new PrefixCache(this.pool, config.blockSize);
  }

  get numBlocks(): number {
    return this.pool.numBlocks;
  }

  get numFreeBlocks(): number {
    return this.pool.numFreeBlocks;
  }

  /** Fraction of usable blocks held by requests, in [0, 1]. */
  get usage(): number {
    return this.pool.usage;
  }

  get prefixCacheStats(): PrefixCacheStats {
    return { ...this.stats };
  }

  resetPrefixCacheStats(): void {
    this.stats = { requests: 0, queries: 0, hits: 0 };
  }

  /**
   * The longest cached prefix of a request about to be admitted, in full blocks. Never the whole
   * request: at least one token is left to compute so that the step produces its logits.
   * Pure: counters move only when allocateSlots accepts the hit.
   */
  getComputedBlocks(request: KVRequest): ComputedBlocks {
    if (!this.enablePrefixCaching || request.skipPrefixCache === true) return NO_HIT;
    const maxNumBlocks = Math.floor((request.numTokens - 1) / this.blockSize);
    if (maxNumBlocks <= 0) return NO_HIT;
    const blocks = this.prefixCache.findLongestPrefix(request, maxNumBlocks);
    return { blocks, numComputedTokens: blocks.length * this.blockSize };
  }

  /**
   * Makes room for `numNewTokens` more tokens after the request's computed ones (plus, on
   * admission, the prefix hit `computed` from getComputedBlocks). Returns the ids of the blocks
   * it added (possibly none), or null, changing nothing, when the pool cannot supply them.
   * Blocks that become full with these tokens enter the prefix cache now: the runner writes a
   * step's KV before any attention reads it, so a request admitted later in the same step may
   * already share them.
   */
  allocateSlots(request: KVRequest, numNewTokens: number, computed?: ComputedBlocks): number[] | null {
    check(Number.isInteger(numNewTokens) && numNewTokens > 0, `numNewTokens must be a positive integer, got ${numNewTokens}`);
    const hit = computed ?? NO_HIT;
    const held = this.blocksByRequest.get(request.requestId) ?? [];
    if (hit.blocks.length > 0 && (held.length > 0 || !this.enablePrefixCaching)) {
      throw new WgllmError('internal', `prefix hit for request ${request.requestId} that already holds blocks or with caching off`);
    }
    const numComputedTokens = request.numComputedTokens + hit.numComputedTokens;
    const numTokensNeedSlot = numComputedTokens + numNewTokens;
    const numTokensKnownOrPending = request.numTokens + (request.numOutputPlaceholders ?? 0);
    check(numTokensNeedSlot <= numTokensKnownOrPending, `request ${request.requestId}: ${numTokensNeedSlot} slots asked for ${numTokensKnownOrPending} tokens`);

    const numRequiredBlocks = Math.ceil(numTokensNeedSlot / this.blockSize);
    const numNewBlocks = Math.max(0, numRequiredBlocks - held.length - hit.blocks.length);
    // Hit blocks nobody holds sit in the free queue: taking them shrinks it too.
    const numEvictableHits = hit.blocks.reduce((n, b) => n + (b.refCnt === 0 ? 1 : 0), 0);
    if (numNewBlocks + numEvictableHits > this.pool.numFreeBlocks) return null;

    // Touch before taking new blocks, or getNewBlocks could evict the very blocks we hit.
    this.pool.touch(hit.blocks);
    if (computed !== undefined && this.enablePrefixCaching) this.recordLookup(request, hit);
    if (!this.blocksByRequest.has(request.requestId)) {
      this.blocksByRequest.set(request.requestId, held);
      this.numCachedBlocksByRequest.set(request.requestId, hit.blocks.length);
    }
    held.push(...hit.blocks);
    const newBlocks = this.pool.getNewBlocks(numNewBlocks);
    held.push(...newBlocks);
    if (this.enablePrefixCaching) this.cacheFullBlocks(request, numTokensNeedSlot);
    return newBlocks.map((b) => b.blockId);
  }

  /** Caches the request's blocks made full by its first `numComputedTokens` tokens. */
  cacheFullBlocks(request: KVRequest, numComputedTokens: number): void {
    if (!this.enablePrefixCaching) return;
    const blocks = this.blocksByRequest.get(request.requestId);
    if (blocks === undefined) return;
    const from = this.numCachedBlocksByRequest.get(request.requestId) ?? 0;
    const to = Math.min(Math.floor(Math.min(numComputedTokens, request.numTokens) / this.blockSize), blocks.length);
    if (to <= from) return;
    this.prefixCache.cacheFullBlocks(request, blocks, from, to);
    this.numCachedBlocksByRequest.set(request.requestId, to);
  }

  /**
   * Returns all of a request's blocks to the pool, last block first so that the tail of the
   * sequence (least likely to be shared) is evicted first. Cached blocks keep their keys until
   * evicted. A request holding nothing is a no-op, so finish/abort/preempt can always call it.
   */
  free(request: KVRequest | string): void {
    const requestId = typeof request === 'string' ? request : request.requestId;
    const blocks = this.blocksByRequest.get(requestId);
    this.blocksByRequest.delete(requestId);
    this.numCachedBlocksByRequest.delete(requestId);
    this.prefixCache.forget(requestId);
    if (blocks !== undefined) this.pool.freeBlocks([...blocks].reverse());
  }

  /** The request's block table: physical block ids in sequence order (a copy). */
  getBlockIds(requestId: string): number[] {
    return (this.blocksByRequest.get(requestId) ?? []).map((b) => b.blockId);
  }

  /** Ids of the requests currently holding blocks. */
  requestIds(): string[] {
    return [...this.blocksByRequest.keys()];
  }

  /** Drops the whole prefix cache; false (nothing done) while any request holds blocks. */
  resetPrefixCache(): boolean {
    return this.pool.resetPrefixCache();
  }

  private recordLookup(request: KVRequest, hit: ComputedBlocks): void {
    this.stats.requests++;
    this.stats.queries += request.numTokens;
    this.stats.hits += hit.numComputedTokens;
  }
}
