import { WgllmError } from '../core/errors.js';
import type { KVCacheBlock } from './kv-cache-block.js';

/**
 * The free blocks as a doubly-linked list threaded through the blocks themselves, in eviction
 * order: allocation takes from the front, freeing appends to the back. A cached block that a new
 * request hits is pulled out of the middle in O(1), which a plain array could not do; so the
 * front is always the least recently used free block, and cached ones are evicted LRU first.
 */
export class FreeBlockQueue {
  private head: KVCacheBlock | null = null;
  private tail: KVCacheBlock | null = null;
  private count = 0;

  constructor(blocks: Iterable<KVCacheBlock> = []) {
    for (const b of blocks) this.append(b);
  }

  get numFreeBlocks(): number {
    return this.count;
  }

  /** Removes and returns the front (least recently used) block. */
  popLeft(): KVCacheBlock {
    const b = this.head;
    if (b === null) throw new WgllmError('internal', 'popLeft on an empty free block queue');
    this.remove(b);
    return b;
  }

  /** Removes `block` from anywhere in the queue (a cache hit on a free block). */
  remove(block: KVCacheBlock): void {
    if (!this.contains(block)) {
      throw new WgllmError('internal', `block ${block.blockId} is not in the free queue`);
    }
    if (block.prevFree === null) this.head = block.nextFree;
    else block.prevFree.nextFree = block.nextFree;
    if (block.nextFree === null) this.tail = block.prevFree;
    else block.nextFree.prevFree = block.prevFree;
    block.prevFree = null;
    block.nextFree = null;
    this.count--;
  }

  /** Appends `block` at the back (the last to be evicted). */
  append(block: KVCacheBlock): void {
    if (this.contains(block)) {
      throw new WgllmError('internal', `block ${block.blockId} is already in the free queue`);
    }
    block.prevFree = this.tail;
    block.nextFree = null;
    if (this.tail === null) this.head = block;
    else this.tail.nextFree = block;
    this.tail = block;
    this.count++;
  }

  contains(block: KVCacheBlock): boolean {
    return block.prevFree !== null || block.nextFree !== null || this.head === block;
  }

  /** Block ids front to back (eviction order); O(n), for tests and debugging. */
  blockIds(): number[] {
    const ids: number[] = [];
    for (let b = this.head; b !== null; b = b.nextFree) ids.push(b.blockId);
    return ids;
  }
}
