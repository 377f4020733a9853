import type { BlockHash } from './hash.js';

/** Block 0 is never handed out: the model runner pads block tables with it. */
export const NULL_BLOCK_ID = 0;

/** The parent link of a first block (no block has cache id 0). */
export const ROOT_CACHE_ID = 0;

/**
 * What a cached (full, hashed) block holds, kept so that a hit can be verified exactly instead
 * of trusting the 64-bit hash.
 */
export interface CachedBlockKey {
  readonly hash: BlockHash;
  /** The block's `blockSize` token ids. */
  readonly tokenIds: readonly number[];
  /** Extra keys mixed into this block (the cache salt on a first block, '' otherwise). */
  readonly extraKeys: string;
  /** `cacheId` of the parent block when this one was cached; ROOT_CACHE_ID for a first block. */
  readonly parentCacheId: number;
  /** Unique per caching event and never reused, so a link cannot point at a recycled block. */
  readonly cacheId: number;
}

/**
 * One physical KV block. Mutable on purpose: the pool and its free queue update these fields in
 * place so that allocation, touch and free are O(1) per block.
 */
export class KVCacheBlock {
  /** Requests holding this block; 0 means it sits in the free queue (possibly still cached). */
  refCnt = 0;
  /** Set while the block is in the prefix cache; cleared when it is evicted for reuse. */
  cacheKey: CachedBlockKey | null = null;
  /** Free-queue links; both null when the block is not in the queue. */
  prevFree: KVCacheBlock | null = null;
  nextFree: KVCacheBlock | null = null;

  constructor(readonly blockId: number) {}

  get isNull(): boolean {
    return this.blockId === NULL_BLOCK_ID;
  }

  get blockHash(): BlockHash | null {
    return this.cacheKey?.hash ?? null;
  }
}
