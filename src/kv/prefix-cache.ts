import { WgllmError } from '../core/errors.js';
import type { BlockPool } from './block-pool.js';
import { hashBlockTokens } from './hash.js';
import type { BlockHash } from './hash.js';
import { ROOT_CACHE_ID } from './kv-cache-block.js';
import type { KVCacheBlock } from './kv-cache-block.js';
import type { KVRequest } from './kv-request.js';

/**
 * The prefix-cache logic over a BlockPool: block hashes per request, longest-prefix lookup and
 * registration of newly full blocks. Only FULL blocks are ever cached.
 *
 * Collision guard: exact, not probabilistic. The hash chain (parent hash + tokens + extra keys,
 * FNV-1a 64) only finds candidates; a candidate is a hit only if its stored tokens and extra keys
 * equal the request's and its stored parent link names a block already verified as this
 * request's previous block. By induction the whole prefix is then equal, whatever the hash does.
 * Parent links are `cacheId`s, fresh per caching event and never reused, so a recycled block can
 * never satisfy a stale link. The price: a cached block whose parent was evicted cannot be
 * reached again (LRU evicts the tail of a sequence first, so this is rare).
 */
export class PrefixCache {
  // Hashes of each live request's full blocks, extended as it grows; dropped on free.
  private readonly hashesByRequest = new Map<string, BlockHash[]>();

  constructor(
    private readonly pool: BlockPool,
    readonly blockSize: number,
  ) {}

  /** Hashes of the request's first `numBlocks` full blocks (computed once, then memoized). */
  blockHashes(request: KVRequest, numBlocks: number): readonly BlockHash[] {
    if (numBlocks * this.blockSize > request.numTokens) {
      throw new WgllmError('internal', `request ${request.requestId} has fewer than ${numBlocks} full blocks`);
    }
    let hashes = this.hashesByRequest.get(request.requestId);
    if (hashes === undefined) {
      hashes = [];
      this.hashesByRequest.set(request.requestId, hashes);
    }
    for (let i = hashes.length; i < numBlocks; i++) {
      const start = i * this.blockSize;
      hashes.push(hashBlockTokens(hashes[i - 1] ?? null, request.allTokenIds, start, start + this.blockSize, this.extraKeys(request, i)));
    }
    return hashes;
  }

  /** The longest run of cached blocks equal to the request's first blocks, at most `maxNumBlocks`. */
  findLongestPrefix(request: KVRequest, maxNumBlocks: number): KVCacheBlock[] {
    const hashes = this.blockHashes(request, maxNumBlocks);
    const hits: KVCacheBlock[] = [];
    // cacheIds of every block verified equal to the prefix so far (several when two requests
    // computed the same prefix at once); a child may link to any of them.
    let parents: number[] = [ROOT_CACHE_ID];
    for (let i = 0; i < maxNumBlocks; i++) {
      const matches = this.pool
        .getCachedBlocks(hashes[i]!)
        .filter((b) => b.cacheKey !== null && parents.includes(b.cacheKey.parentCacheId) && this.keyMatches(b, request, i));
      if (matches.length === 0) break;
      hits.push(matches[0]!);
      parents = matches.map((b) => b.cacheKey!.cacheId);
    }
    return hits;
  }

  /**
   * Caches `blocks[fromBlock, toBlock)`, the request's blocks that have just become full. Blocks
   * before `fromBlock` must already be cached (hits or earlier calls): each links to its parent.
   */
  cacheFullBlocks(request: KVRequest, blocks: readonly KVCacheBlock[], fromBlock: number, toBlock: number): void {
    if (toBlock <= fromBlock) return;
    this.blockHashes(request, toBlock);
    const hashes = this.hashesByRequest.get(request.requestId)!;
    for (let i = fromBlock; i < toBlock; i++) {
      const block = blocks[i];
      if (block === undefined) throw new WgllmError('internal', `request ${request.requestId} has no block ${i} to cache`);
      let parentCacheId = ROOT_CACHE_ID;
      if (i > 0) {
        const parentKey = blocks[i - 1]?.cacheKey;
        if (parentKey == null) throw new WgllmError('internal', `block ${i - 1} of request ${request.requestId} is not cached`);
        parentCacheId = parentKey.cacheId;
      }
      const start = i * this.blockSize;
      this.pool.cacheBlock(block, {
        hash: hashes[i]!,
        tokenIds: request.allTokenIds.slice(start, start + this.blockSize),
        extraKeys: this.extraKeys(request, i),
        parentCacheId,
      });
    }
  }

  forget(requestId: string): void {
    this.hashesByRequest.delete(requestId);
  }

  private extraKeys(request: KVRequest, blockIndex: number): string {
    // The salt enters only the first block: every later hash and link descends from it.
    return blockIndex === 0 ? (request.cacheSalt ?? '') : '';
  }

  private keyMatches(block: KVCacheBlock, request: KVRequest, blockIndex: number): boolean {
    const key = block.cacheKey!;
    if (key.extraKeys !== this.extraKeys(request, blockIndex)) return false;
    const start = blockIndex * this.blockSize;
    for (let j = 0; j < this.blockSize; j++) {
      if (key.tokenIds[j] !== request.allTokenIds[start + j]) return false;
    }
    return true;
  }
}
