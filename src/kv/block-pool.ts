import { WgllmError, check } from '../core/errors.js';
import { FreeBlockQueue } from './free-block-queue.js';
import type { BlockHash } from './hash.js';
import { KVCacheBlock } from './kv-cache-block.js';
import type { CachedBlockKey } from './kv-cache-block.js';

/**
 * A fixed set of `numBlocks` KV blocks with reference counts, an LRU free queue and the prefix
 * cache index (hash -> blocks). It knows nothing of requests; KVCacheManager does.
 *
 * A freed block keeps its cache key while it waits in the free queue, so a later request can
 * revive it; it loses the key only when it is reused for new tokens (evicted). Block 0 is the
 * null block: taken out at construction and never handed out or freed.
 */
export class BlockPool {
  readonly nullBlock: KVCacheBlock;
  private readonly blocks: KVCacheBlock[];
  private readonly freeQueue: FreeBlockQueue;
  // Several blocks may share a hash: identical prefixes computed concurrently by two requests.
  private readonly cachedBlocks = new Map<BlockHash, KVCacheBlock[]>();
  private numCached = 0;
  private nextCacheId = 1;

  constructor(
    readonly numBlocks: number,
    readonly enableCaching: boolean,
  ) {
    check(Number.isInteger(numBlocks) && numBlocks >= 2, `numBlocks must be an integer >= 2 (block 0 is reserved), got ${numBlocks}`);
    this.blocks = Array.from({ length: numBlocks }, (_, i) => new KVCacheBlock(i));
    this.freeQueue = new FreeBlockQueue(this.blocks);
    this.nullBlock = this.freeQueue.popLeft();
  }

  /** Blocks that can be handed out now: unused ones and cached ones nobody holds. */
  get numFreeBlocks(): number {
    return this.freeQueue.numFreeBlocks;
  }

  /** Fraction of the usable blocks (all but the null block) that requests hold, in [0, 1]. */
  get usage(): number {
    return 1 - this.numFreeBlocks / (this.numBlocks - 1);
  }

  /** Number of blocks currently in the prefix cache (held or free). */
  get numCachedBlocks(): number {
    return this.numCached;
  }

  getBlock(blockId: number): KVCacheBlock {
    const b = this.blocks[blockId];
    if (b === undefined) throw new WgllmError('invalid_argument', `no block ${blockId} in a pool of ${this.numBlocks}`);
    return b;
  }

  /** Cached blocks with this hash, oldest first; empty when none. Verify before use. */
  getCachedBlocks(hash: BlockHash): readonly KVCacheBlock[] {
    return this.cachedBlocks.get(hash) ?? [];
  }

  /**
   * Takes `n` blocks from the front of the free queue with refCnt 1, evicting any cache key they
   * still carry. The caller checks `numFreeBlocks` first; asking for more is a bug.
   */
  getNewBlocks(n: number): KVCacheBlock[] {
    if (n > this.numFreeBlocks) {
      throw new WgllmError('internal', `asked for ${n} blocks with only ${this.numFreeBlocks} free`);
    }
    const out: KVCacheBlock[] = [];
    for (let i = 0; i < n; i++) {
      const b = this.freeQueue.popLeft();
      this.evict(b);
      b.refCnt = 1;
      out.push(b);
    }
    return out;
  }

  /** Takes a reference on cache-hit blocks; a free one leaves the free queue so it is not evicted. */
  touch(blocks: readonly KVCacheBlock[]): void {
    for (const b of blocks) {
      if (b.isNull) throw new WgllmError('internal', 'the null block cannot be touched');
      if (b.refCnt === 0) this.freeQueue.remove(b);
      b.refCnt++;
    }
  }

  /**
   * Drops one reference on each block; those reaching 0 go to the back of the free queue in the
   * given order (so the first given is evicted first). Freeing a free block is a bug and throws.
   */
  freeBlocks(orderedBlocks: readonly KVCacheBlock[]): void {
    for (const b of orderedBlocks) {
      if (b.isNull) throw new WgllmError('internal', 'the null block cannot be freed');
      if (b.refCnt <= 0) throw new WgllmError('internal', `double free of block ${b.blockId}`);
      b.refCnt--;
      if (b.refCnt === 0) this.freeQueue.append(b);
    }
  }

  /** Puts a held, full block into the prefix cache and returns its key (with a fresh cacheId). */
  cacheBlock(block: KVCacheBlock, key: Omit<CachedBlockKey, 'cacheId'>): CachedBlockKey {
    if (!this.enableCaching) throw new WgllmError('internal', 'prefix caching is disabled');
    if (block.refCnt === 0 || block.isNull || block.cacheKey !== null) {
      throw new WgllmError('internal', `block ${block.blockId} cannot be cached (refCnt ${block.refCnt}, cached ${block.cacheKey !== null})`);
    }
    const full: CachedBlockKey = { ...key, cacheId: this.nextCacheId++ };
    block.cacheKey = full;
    const list = this.cachedBlocks.get(full.hash);
    if (list === undefined) this.cachedBlocks.set(full.hash, [block]);
    else list.push(block);
    this.numCached++;
    return full;
  }

  /**
   * Forgets every cached block (e.g. after weights change). Only possible when no request holds
   * a block, since held blocks would otherwise lose their links mid-sequence; returns false then.
   */
  resetPrefixCache(): boolean {
    if (this.numFreeBlocks !== this.numBlocks - 1) return false;
    for (const b of this.blocks) b.cacheKey = null;
    this.cachedBlocks.clear();
    this.numCached = 0;
    return true;
  }

  /** Free block ids in eviction order (front first); O(numBlocks), for tests and debugging. */
  freeBlockIds(): number[] {
    return this.freeQueue.blockIds();
  }

  private evict(block: KVCacheBlock): void {
    const key = block.cacheKey;
    if (key === null) return;
    block.cacheKey = null;
    this.numCached--;
    const list = this.cachedBlocks.get(key.hash);
    if (list === undefined) throw new WgllmError('internal', `cached block ${block.blockId} missing from the index`);
    const rest = list.filter((b) => b !== block);
    if (rest.length === 0) this.cachedBlocks.delete(key.hash);
    else this.cachedBlocks.set(key.hash, rest);
  }
}
