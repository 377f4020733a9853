import type { KeyValueStore } from '../core/platform.js';

/**
 * Where tune tables live: one string value (a table's JSON) per adapter store key. It is the
 * platform's KeyValueStore, plus an optional atomic read-modify-write: the Node store locks the
 * file across processes and the IndexedDB store uses one transaction, so two tuners that
 * finish at once merge their entries instead of overwriting each other. Without `update`,
 * TuneCache falls back to get + set (fine for single-writer stores).
 */
export interface TuneStore extends KeyValueStore {
  /**
   * Atomically replaces the value of `key` with `fn(current)`; `fn` is synchronous and may be
   * called again if the implementation retries. Returning undefined deletes the key.
   */
  update?(key: string, fn: (current: string | undefined) => string | undefined): Promise<void>;
  /** where the tables are, for messages ("~/.cache/wgllm/tune", "IndexedDB wgllm/tune") */
  readonly location?: string;
}

/** An in-memory store: tests, and engines that should not persist anything. */
export class MemoryTuneStore implements TuneStore {
  readonly location = 'memory';
  private readonly data = new Map<string, string>();

  async get(key: string): Promise<string | undefined> {
    return this.data.get(key);
  }

  async set(key: string, value: string): Promise<void> {
    this.data.set(key, value);
  }

  async delete(key: string): Promise<void> {
    this.data.delete(key);
  }

  async keys(): Promise<string[]> {
    return [...this.data.keys()];
  }

  async update(key: string, fn: (current: string | undefined) => string | undefined): Promise<void> {
    const next = fn(this.data.get(key));
    if (next === undefined) this.data.delete(key);
    else this.data.set(key, next);
  }
}

/** Read-modify-write through `update` when the store has it, else get + set. */
export async function updateStore(store: TuneStore, key: string, fn: (current: string | undefined) => string | undefined): Promise<void> {
  if (store.update) return store.update(key, fn);
  const next = fn(await store.get(key));
  if (next === undefined) await store.delete(key);
  else await store.set(key, next);
}
