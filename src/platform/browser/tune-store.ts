import { WgllmError } from '../../core/errors.js';
import type { TuneStore } from '../../tune/store.js';

export interface BrowserTuneStoreOptions {
  /** IndexedDB database name (default 'wgllm') */
  dbName?: string;
  /** object store name (default 'tune') */
  storeName?: string;
}

function req<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

/**
 * Tune tables in IndexedDB: one record per adapter key, the table's JSON text as the value
 * (the same text the Node store writes to a file, so export/import is identical). `update`
 * runs in one readwrite transaction, which IndexedDB serializes across tabs and workers of the
 * origin, so two tabs tuning at once merge rather than overwrite.
 */
export class BrowserTuneStore implements TuneStore {
  readonly location: string;
  private db: Promise<IDBDatabase> | undefined;

  constructor(private readonly opts: BrowserTuneStoreOptions = {}) {
    this.location = `IndexedDB ${opts.dbName ?? 'wgllm'}/${opts.storeName ?? 'tune'}`;
  }

  private get storeName(): string {
    return this.opts.storeName ?? 'tune';
  }

  private open(): Promise<IDBDatabase> {
    this.db ??= new Promise<IDBDatabase>((resolve, reject) => {
      const idb = (globalThis as { indexedDB?: IDBFactory }).indexedDB;
      if (!idb) {
        reject(new WgllmError('unsupported', 'IndexedDB is not available here; tune results cannot be stored (use a MemoryTuneStore)'));
        return;
      }
      const r = idb.open(this.opts.dbName ?? 'wgllm', 1);
      r.onupgradeneeded = () => {
        if (!r.result.objectStoreNames.contains(this.storeName)) r.result.createObjectStore(this.storeName);
      };
      r.onsuccess = () => {
        // Another tab upgrading the database must not be blocked by this connection.
        r.result.onversionchange = () => {
          r.result.close();
          this.db = undefined;
        };
        resolve(r.result);
      };
      r.onerror = () => reject(r.error);
      r.onblocked = () => reject(new WgllmError('internal', 'IndexedDB open is blocked by another tab holding an older version'));
    });
    this.db.catch(() => (this.db = undefined));
    return this.db;
  }

  private async tx(mode: IDBTransactionMode): Promise<IDBObjectStore> {
    return (await this.open()).transaction(this.storeName, mode).objectStore(this.storeName);
  }

  async get(key: string): Promise<string | undefined> {
    const v = await req((await this.tx('readonly')).get(key));
    return typeof v === 'string' ? v : undefined;
  }

  async set(key: string, value: string): Promise<void> {
    await req((await this.tx('readwrite')).put(value, key));
  }

  async delete(key: string): Promise<void> {
    await req((await this.tx('readwrite')).delete(key));
  }

  async keys(): Promise<string[]> {
    return (await req((await this.tx('readonly')).getAllKeys())).map(String);
  }

  async update(key: string, fn: (current: string | undefined) => string | undefined): Promise<void> {
    const store = await this.tx('readwrite');
    await new Promise<void>((resolve, reject) => {
      const t = store.transaction;
      t.oncomplete = () => resolve();
      t.onerror = () => reject(t.error);
      t.onabort = () => reject(t.error ?? new WgllmError('internal', 'IndexedDB transaction aborted'));
      const g = store.get(key);
      // fn is synchronous, so the put is issued inside the same transaction before it commits.
      g.onsuccess = () => {
        try {
          const next = fn(typeof g.result === 'string' ? g.result : undefined);
          if (next === undefined) store.delete(key);
          else store.put(next, key);
        } catch (e) {
          t.abort();
          reject(e);
        }
      };
    });
  }
}

export function createBrowserTuneStore(opts: BrowserTuneStoreOptions = {}): BrowserTuneStore {
  return new BrowserTuneStore(opts);
}
