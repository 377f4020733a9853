import { describe, expect, it } from 'vitest';
import { FreeBlockQueue } from '../../src/kv/free-block-queue.js';
import { KVCacheBlock } from '../../src/kv/kv-cache-block.js';

describe('FreeBlockQueue', () => {
  const make = (n: number) => Array.from({ length: n }, (_, i) => new KVCacheBlock(i));

  it('pops from the front, appends at the back, removes from the middle', () => {
    const blocks = make(5);
    const q = new FreeBlockQueue(blocks);
    expect(q.blockIds()).toEqual([0, 1, 2, 3, 4]);
    expect(q.popLeft().blockId).toBe(0);
    q.remove(blocks[2]!);
    expect(q.blockIds()).toEqual([1, 3, 4]);
    q.append(blocks[2]!);
    q.append(blocks[0]!);
    expect(q.blockIds()).toEqual([1, 3, 4, 2, 0]);
    q.remove(blocks[0]!); // the tail
    q.remove(blocks[1]!); // the head
    expect(q.blockIds()).toEqual([3, 4, 2]);
    expect(q.numFreeBlocks).toBe(3);
  });

  it('handles a single element and refuses double insertion or foreign removal', () => {
    const [a, b] = make(2) as [KVCacheBlock, KVCacheBlock];
    const q = new FreeBlockQueue([a]);
    expect(() => q.append(a)).toThrow(/already/);
    expect(() => q.remove(b)).toThrow(/not in the free queue/);
    expect(q.popLeft()).toBe(a);
    expect(q.numFreeBlocks).toBe(0);
    expect(() => q.popLeft()).toThrow(/empty/);
    q.append(a);
    expect(q.blockIds()).toEqual([0]);
  });
});
