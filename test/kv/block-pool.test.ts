import { describe, expect, it } from 'vitest';
import { BlockPool } from '../../src/kv/block-pool.js';
import { ROOT_CACHE_ID } from '../../src/kv/kv-cache-block.js';
import type { KVCacheBlock } from '../../src/kv/kv-cache-block.js';

describe('BlockPool', () => {
  it('reserves block 0 and hands out blocks front first', () => {
    const pool = new BlockPool(6, true);
    expect(pool.nullBlock.blockId).toBe(0);
    expect(pool.numFreeBlocks).toBe(5);
    expect(pool.freeBlockIds()).toEqual([1, 2, 3, 4, 5]);
    const got = pool.getNewBlocks(3);
    expect(got.map((b) => b.blockId)).toEqual([1, 2, 3]);
    expect(got.map((b) => b.refCnt)).toEqual([1, 1, 1]);
    expect(pool.usage).toBeCloseTo(3 / 5, 12);
    expect(() => pool.getNewBlocks(3)).toThrow(/only 2 free/);
  });

  it('frees in the given order, counts references and refuses double frees', () => {
    const pool = new BlockPool(6, true);
    const [b1, b2, b3] = pool.getNewBlocks(3) as [KVCacheBlock, KVCacheBlock, KVCacheBlock];
    pool.freeBlocks([b3, b2, b1]);
    expect(pool.freeBlockIds()).toEqual([4, 5, 3, 2, 1]);
    expect(() => pool.freeBlocks([b1])).toThrow(/double free of block 1/);
    expect(() => pool.freeBlocks([pool.nullBlock])).toThrow(/null block/);
    // touch revives a free block out of the middle of the queue
    pool.touch([b3]);
    pool.touch([b3]);
    expect(b3.refCnt).toBe(2);
    expect(pool.freeBlockIds()).toEqual([4, 5, 2, 1]);
    pool.freeBlocks([b3]);
    expect(pool.freeBlockIds()).toEqual([4, 5, 2, 1]);
    pool.freeBlocks([b3]);
    expect(pool.freeBlockIds()).toEqual([4, 5, 2, 1, 3]);
    expect(pool.usage).toBe(0);
  });

  it('keeps cached blocks indexed while free and evicts them on reuse', () => {
    const pool = new BlockPool(3, true); // blocks 1, 2
    const [b1] = pool.getNewBlocks(1);
    const key = pool.cacheBlock(b1!, { hash: 'h1', tokenIds: [1], extraKeys: '', parentCacheId: ROOT_CACHE_ID });
    expect(key.cacheId).toBe(1);
    expect(() => pool.cacheBlock(b1!, { hash: 'h1', tokenIds: [1], extraKeys: '', parentCacheId: ROOT_CACHE_ID })).toThrow(/cannot be cached/);
    pool.freeBlocks([b1!]);
    expect(pool.getCachedBlocks('h1')).toEqual([b1]);
    expect(pool.numCachedBlocks).toBe(1);
    expect(pool.resetPrefixCache()).toBe(true);
    expect(pool.getCachedBlocks('h1')).toEqual([]);
    // cache again, then allocate both blocks: block 2 first (front), then 1 whose key goes away
    pool.touch([b1!]);
    pool.cacheBlock(b1!, { hash: 'h1', tokenIds: [1], extraKeys: '', parentCacheId: ROOT_CACHE_ID });
    expect(pool.resetPrefixCache()).toBe(false); // a block is held
    pool.freeBlocks([b1!]);
    expect(pool.getNewBlocks(1)[0]!.blockId).toBe(2);
    expect(pool.getCachedBlocks('h1')).toEqual([b1]);
    expect(pool.getNewBlocks(1)[0]).toBe(b1);
    expect(b1!.cacheKey).toBeNull();
    expect(pool.getCachedBlocks('h1')).toEqual([]);
    expect(pool.numCachedBlocks).toBe(0);
  });

  it('validates its size', () => {
    expect(() => new BlockPool(1, false)).toThrow(/numBlocks/);
    expect(() => new BlockPool(2, false).cacheBlock(new BlockPool(2, false).getNewBlocks(1)[0]!, { hash: 'x', tokenIds: [], extraKeys: '', parentCacheId: 0 })).toThrow(/disabled/);
  });
});
