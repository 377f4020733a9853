import { describe, expect, it } from 'vitest';
import { hashBlockTokens } from '../../src/kv/hash.js';
import { KVCacheManager } from '../../src/kv/kv-cache-manager.js';
import { ROOT_CACHE_ID } from '../../src/kv/kv-cache-block.js';

/** A mutable stand-in for the scheduler's Request. */
class FakeRequest {
  numComputedTokens = 0;
  constructor(
    readonly requestId: string,
    readonly allTokenIds: number[],
    readonly cacheSalt?: string,
  ) {}
  get numTokens(): number {
    return this.allTokenIds.length;
  }
}

const range = (start: number, n: number): number[] => Array.from({ length: n }, (_, i) => start + i);

/** Admits a request the way the scheduler does: lookup, allocate the rest of its tokens. */
function admit(kv: KVCacheManager, r: FakeRequest): number[] | null {
  const hit = kv.getComputedBlocks(r);
  const ids = kv.allocateSlots(r, r.numTokens - hit.numComputedTokens, hit);
  if (ids !== null) r.numComputedTokens = r.numTokens;
  return ids;
}

describe('KVCacheManager without prefix caching', () => {
  it('allocates block tables, grows them per token and frees tail first', () => {
    const kv = new KVCacheManager({ numBlocks: 6, blockSize: 4, enablePrefixCaching: false });
    const a = new FakeRequest('a', range(100, 6));
    expect(kv.getComputedBlocks(a)).toEqual({ blocks: [], numComputedTokens: 0 });
    expect(kv.allocateSlots(a, 6)).toEqual([1, 2]);
    a.numComputedTokens = 6;
    a.allTokenIds.push(7, 8);
    expect(kv.allocateSlots(a, 2)).toEqual([]); // 8 tokens still fit 2 blocks
    a.numComputedTokens = 8;
    a.allTokenIds.push(9);
    expect(kv.allocateSlots(a, 1)).toEqual([3]);
    expect(kv.getBlockIds('a')).toEqual([1, 2, 3]);
    expect(kv.usage).toBeCloseTo(3 / 5, 12);
    expect(kv.pool.numCachedBlocks).toBe(0);
    kv.free(a);
    expect(kv.pool.freeBlockIds()).toEqual([4, 5, 3, 2, 1]);
    expect(kv.usage).toBe(0);
    expect(kv.getBlockIds('a')).toEqual([]);
    kv.free(a); // freeing twice is a no-op, never a double free
    expect(kv.prefixCacheStats).toEqual({ requests: 0, queries: 0, hits: 0 });
  });

  it('returns null and changes nothing when the pool is exhausted', () => {
    const kv = new KVCacheManager({ numBlocks: 4, blockSize: 2, enablePrefixCaching: false });
    const a = new FakeRequest('a', range(0, 4));
    const b = new FakeRequest('b', range(0, 3));
    expect(kv.allocateSlots(a, 4)).toEqual([1, 2]);
    expect(kv.allocateSlots(b, 3)).toBeNull();
    expect(kv.getBlockIds('b')).toEqual([]);
    expect(kv.numFreeBlocks).toBe(1);
    expect(kv.allocateSlots(b, 2)).toEqual([3]);
    expect(() => kv.allocateSlots(b, 0)).toThrow(/positive/);
    expect(() => kv.allocateSlots(b, 4)).toThrow(/slots asked/);
  });
});

describe('KVCacheManager prefix caching', () => {
  const make = (numBlocks = 8) => new KVCacheManager({ numBlocks, blockSize: 4, enablePrefixCaching: true });

  it('hits the longest cached prefix in full blocks and shares them', () => {
    const kv = make(6);
    const a = new FakeRequest('a', range(100, 10));
    expect(admit(kv, a)).toEqual([1, 2, 3]);
    expect(kv.pool.numCachedBlocks).toBe(2); // blocks 1, 2 are full; 3 holds 2 tokens
    kv.free(a);
    expect(kv.pool.freeBlockIds()).toEqual([4, 5, 3, 2, 1]);

    const b = new FakeRequest('b', [...range(100, 9), 7, 7, 7]);
    const hit = kv.getComputedBlocks(b);
    expect(hit.blocks.map((x) => x.blockId)).toEqual([1, 2]);
    expect(hit.numComputedTokens).toBe(8);
    expect(kv.allocateSlots(b, 4, hit)).toEqual([4]);
    expect(kv.getBlockIds('b')).toEqual([1, 2, 4]);
    expect(kv.pool.freeBlockIds()).toEqual([5, 3]);
    expect(kv.pool.numCachedBlocks).toBe(3); // b's third block is full too
    expect(kv.prefixCacheStats).toEqual({ requests: 2, queries: 22, hits: 8 });

    // a second sharer: reference counts go to 2 and back
    const c = new FakeRequest('c', range(100, 9));
    expect(admit(kv, c)).toEqual([5]);
    expect(kv.getBlockIds('c')).toEqual([1, 2, 5]);
    expect([1, 2, 4, 5].map((id) => kv.pool.getBlock(id).refCnt)).toEqual([2, 2, 1, 1]);
    kv.free(b);
    expect([1, 2, 4].map((id) => kv.pool.getBlock(id).refCnt)).toEqual([1, 1, 0]);
    expect(kv.pool.freeBlockIds()).toEqual([3, 4]);
    kv.free(c);
    expect(kv.pool.freeBlockIds()).toEqual([3, 4, 5, 2, 1]);
    expect(kv.prefixCacheStats).toEqual({ requests: 3, queries: 31, hits: 16 });
  });

  it('never serves the whole prompt: one token is always left to compute', () => {
    const kv = make();
    admit(kv, new FakeRequest('a', range(0, 12)));
    kv.free('a');
    expect(kv.getComputedBlocks(new FakeRequest('b', range(0, 8))).numComputedTokens).toBe(4);
    expect(kv.getComputedBlocks(new FakeRequest('c', range(0, 9))).numComputedTokens).toBe(8);
    expect(kv.getComputedBlocks(new FakeRequest('d', range(0, 4))).numComputedTokens).toBe(0);
    expect(kv.getComputedBlocks(new FakeRequest('e', range(0, 1))).numComputedTokens).toBe(0);
  });

  it('evicts free cached blocks least recently used first', () => {
    const kv = make(8); // blocks 1..7
    const a = new FakeRequest('a', range(100, 9));
    expect(admit(kv, a)).toEqual([1, 2, 3]);
    kv.free(a);
    expect(kv.pool.freeBlockIds()).toEqual([4, 5, 6, 7, 3, 2, 1]);
    const b = new FakeRequest('b', range(200, 9));
    expect(admit(kv, b)).toEqual([4, 5, 6]);
    kv.free(b);
    expect(kv.pool.freeBlockIds()).toEqual([7, 3, 2, 1, 6, 5, 4]);
    // a's prefix is used again: its blocks become the most recently freed
    const c = new FakeRequest('c', range(100, 9));
    expect(admit(kv, c)).toEqual([7]);
    kv.free(c);
    expect(kv.pool.freeBlockIds()).toEqual([3, 6, 5, 4, 7, 2, 1]);
    // 4 fresh blocks evict b's cached blocks (5, 4), not a's (2, 1)
    const d = new FakeRequest('d', range(300, 16));
    expect(admit(kv, d)).toEqual([3, 6, 5, 4]);
    kv.free(d);
    kv.resetPrefixCacheStats();
    expect(kv.getComputedBlocks(new FakeRequest('e', range(200, 9))).numComputedTokens).toBe(0);
    expect(kv.getComputedBlocks(new FakeRequest('f', range(100, 9))).blocks.map((x) => x.blockId)).toEqual([1, 2]);
  });

  it('counts hit blocks waiting in the free queue against the free blocks', () => {
    const kv = make(4); // blocks 1..3
    admit(kv, new FakeRequest('a', range(0, 9)));
    kv.free('a'); // free: [3, 2, 1], 1 and 2 cached
    const other = new FakeRequest('o', range(50, 1));
    expect(admit(kv, other)).toEqual([3]);
    // b hits 1, 2 (both free) and needs one more block: 3 > 2 free blocks
    const b = new FakeRequest('b', range(0, 12));
    const hit = kv.getComputedBlocks(b);
    expect(hit.numComputedTokens).toBe(8);
    expect(kv.allocateSlots(b, 4, hit)).toBeNull();
    expect(kv.pool.freeBlockIds()).toEqual([2, 1]);
    expect(kv.prefixCacheStats).toEqual({ requests: 2, queries: 10, hits: 0 }); // refused: not counted
    kv.free(other);
    expect(kv.allocateSlots(b, 4, hit)).toEqual([3]);
    expect(kv.getBlockIds('b')).toEqual([1, 2, 3]);
  });

  it('shares blocks only between equal cache salts', () => {
    const kv = make();
    admit(kv, new FakeRequest('a', range(0, 9), 'tenant-1'));
    kv.free('a');
    expect(kv.getComputedBlocks(new FakeRequest('b', range(0, 9))).numComputedTokens).toBe(0);
    expect(kv.getComputedBlocks(new FakeRequest('c', range(0, 9), 'tenant-2')).numComputedTokens).toBe(0);
    expect(kv.getComputedBlocks(new FakeRequest('d', range(0, 9), 'tenant-1')).numComputedTokens).toBe(8);
  });

  it('verifies hits exactly: a colliding hash or a stale parent link is no hit', () => {
    const kv = make();
    const r = new FakeRequest('r', range(0, 9));
    const h0 = hashBlockTokens(null, r.allTokenIds, 0, 4, '');
    const h1 = hashBlockTokens(h0, r.allTokenIds, 4, 8, '');
    // forge a block whose hash collides with r's first block but holds other tokens
    const [forged, child] = kv.pool.getNewBlocks(2);
    kv.pool.cacheBlock(forged!, { hash: h0, tokenIds: [9, 9, 9, 9], extraKeys: '', parentCacheId: ROOT_CACHE_ID });
    kv.pool.freeBlocks([forged!]);
    expect(kv.getComputedBlocks(r).numComputedTokens).toBe(0);
    // the genuine first block; a second block with the right tokens and hash but linked to
    // another parent must not extend the hit
    admit(kv, new FakeRequest('a', range(0, 5)));
    kv.pool.cacheBlock(child!, { hash: h1, tokenIds: range(4, 4), extraKeys: '', parentCacheId: 999 });
    kv.pool.freeBlocks([child!]);
    kv.free('a');
    expect(kv.getComputedBlocks(r).blocks.map((b) => b.blockId)).toEqual([3]);
  });

  it('finds identical prefixes computed concurrently and resets only when idle', () => {
    const kv = make();
    const a = new FakeRequest('a', range(0, 9));
    const b = new FakeRequest('b', range(0, 9));
    // both admitted before either is cached: two copies of the same prefix
    const hitA = kv.getComputedBlocks(a);
    const hitB = kv.getComputedBlocks(b);
    expect(kv.allocateSlots(a, 9, hitA)).toEqual([1, 2, 3]);
    expect(kv.allocateSlots(b, 9, hitB)).toEqual([4, 5, 6]);
    expect(kv.pool.numCachedBlocks).toBe(4);
    expect(kv.resetPrefixCache()).toBe(false);
    kv.free(a);
    // a's blocks get evicted; b's copy still serves the whole prefix
    expect(kv.allocateSlots(new FakeRequest('x', range(50, 16)), 16)).toEqual([7, 3, 2, 1]);
    expect(kv.pool.getBlock(1).cacheKey?.tokenIds).toEqual(range(62, 4)); // now x's last block
    expect(kv.getComputedBlocks(new FakeRequest('c', range(0, 9))).blocks.map((x) => x.blockId)).toEqual([4, 5]);
    kv.free(b);
    kv.free('x');
    expect(kv.resetPrefixCache()).toBe(true);
    expect(kv.pool.numCachedBlocks).toBe(0);
    expect(kv.getComputedBlocks(new FakeRequest('d', range(0, 9))).numComputedTokens).toBe(0);
  });

  it('skips the lookup for requests that must compute every token', () => {
    const kv = make();
    admit(kv, new FakeRequest('a', range(0, 9)));
    kv.free('a');
    const r = Object.assign(new FakeRequest('r', range(0, 9)), { skipPrefixCache: true });
    expect(kv.getComputedBlocks(r).numComputedTokens).toBe(0);
  });
});
