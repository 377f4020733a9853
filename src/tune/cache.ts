import type { DeviceInfo } from '../gpu/device-info.js';
import { emptyTable, mergeEntries, parseExport, parseTable, tableText, type TuneBundle, type TuneEntry, type TuneTable } from './entry.js';
import { adapterIdentity, adapterStoreKey, keyString, TUNE_SCHEMA, type AdapterIdentity, type TuneKey } from './key.js';
import { MemoryTuneStore, updateStore, type TuneStore } from './store.js';

export interface TuneCacheOptions {
  /** where warnings go (corrupt or foreign files, store failures); default console.warn */
  onWarning?: (message: string) => void;
}

/**
 * One adapter's tuned entries, read once from the store and held in memory: lookups are
 * synchronous map reads. Writes merge into the stored table (read-modify-write through the
 * store's atomic update), so concurrent tuners on one machine never lose each other's entries.
 * A corrupt, foreign or unreadable table is reported once and treated as empty; the next write
 * rebuilds it. Nothing here throws for bad cache contents.
 */
export class TuneCache {
  readonly adapter: AdapterIdentity;
  readonly storeKey: string;
  readonly warnings: string[] = [];
  private byKey = new Map<string, TuneEntry>();

  private constructor(
    readonly store: TuneStore,
    adapter: AdapterIdentity,
    private readonly onWarning: (message: string) => void,
  ) {
    this.adapter = adapter;
    this.storeKey = adapterStoreKey(adapter);
  }

  /** Opens the table of `dev`'s adapter; without a store, an in-memory cache. */
  static async open(store: TuneStore | undefined, dev: Pick<DeviceInfo, 'vendor' | 'architecture' | 'device' | 'description'>, opts: TuneCacheOptions = {}): Promise<TuneCache> {
    const cache = new TuneCache(store ?? new MemoryTuneStore(), adapterIdentity(dev), opts.onWarning ?? ((m) => console.warn(`wgllm: ${m}`)));
    await cache.reload();
    return cache;
  }

  private warn(message: string): void {
    this.warnings.push(message);
    this.onWarning(message);
  }

  private where(): string {
    return `${this.store.location ?? 'tune store'} [${this.storeKey}]`;
  }

  /** Parses a stored value; warns and returns an empty table when it cannot be used. */
  private readTable(text: string | undefined, warn: boolean): TuneTable {
    if (text === undefined) return emptyTable(this.adapter);
    const r = parseTable(text);
    if (!r.ok) {
      if (warn) this.warn(`ignoring the tune cache at ${this.where()}: ${r.reason}; it will be rebuilt`);
      return emptyTable(this.adapter);
    }
    if (r.dropped && warn) this.warn(`tune cache at ${this.where()}: ${r.dropped} malformed entries ignored`);
    return r.table;
  }

  /** Re-reads the stored table (another process may have added entries). */
  async reload(): Promise<void> {
    let text: string | undefined;
    try {
      text = await this.store.get(this.storeKey);
    } catch (e) {
      this.warn(`could not read the tune cache at ${this.where()} (${(e as Error).message}); starting empty`);
    }
    this.setEntries(this.readTable(text, true).entries);
  }

  private setEntries(entries: readonly TuneEntry[]): void {
    this.byKey = new Map(entries.map((e) => [keyString(e.key), e]));
  }

  /** The entry whose key matches in every part, if any. */
  lookup(key: TuneKey): TuneEntry | undefined {
    return this.byKey.get(keyString(key));
  }

  get size(): number {
    return this.byKey.size;
  }

  /** Every entry of this adapter's table, current or stale (other engine/runtime/source). */
  entries(): TuneEntry[] {
    return [...this.byKey.values()];
  }

  /** Whether an entry was made by this engine version and schema on this runtime. */
  static isCurrent(e: TuneEntry, dev: Pick<DeviceInfo, 'runtime'>, engine: string): boolean {
    return e.key.schema === TUNE_SCHEMA && e.key.engine === engine && e.key.runtime === dev.runtime;
  }

  /**
   * Adds entries and persists them, merged with whatever the store holds now. A store failure
   * is a warning: the entries stay usable in memory for this process.
   */
  async record(entries: readonly TuneEntry[]): Promise<void> {
    if (!entries.length) return;
    let merged: TuneTable | undefined;
    try {
      await updateStore(this.store, this.storeKey, (current) => {
        merged = mergeEntries(this.readTable(current, false), entries);
        return tableText(merged);
      });
    } catch (e) {
      this.warn(`could not write the tune cache at ${this.where()} (${(e as Error).message}); results are kept for this run only`);
      merged = mergeEntries({ ...emptyTable(this.adapter), entries: this.entries() }, entries);
    }
    this.setEntries(merged!.entries);
  }

  /** Removes this adapter's entries that match `filter` (all without one); returns how many. */
  async clear(filter?: (e: TuneEntry) => boolean): Promise<number> {
    let removed = 0;
    await updateStore(this.store, this.storeKey, (current) => {
      const table = this.readTable(current, false);
      const keep = filter ? table.entries.filter((e) => !filter(e)) : [];
      removed = table.entries.length - keep.length;
      return keep.length ? tableText({ ...table, updatedAt: new Date().toISOString(), entries: keep }) : undefined;
    });
    await this.reload();
    return removed;
  }

  /** This adapter's table as it is in memory. */
  exportTable(): TuneTable {
    return { ...emptyTable(this.adapter), entries: this.entries() };
  }
}

/** Every adapter's table in the store (unreadable ones are skipped with a problem line). */
export async function exportAllTables(store: TuneStore): Promise<{ bundle: TuneBundle; problems: string[] }> {
  const tables: TuneTable[] = [];
  const problems: string[] = [];
  for (const key of (await store.keys()).sort()) {
    const text = await store.get(key);
    if (text === undefined) continue;
    const r = parseTable(text);
    if (r.ok) tables.push(r.table);
    else problems.push(`${key}: ${r.reason}`);
  }
  return { bundle: { format: 'wgllm-tune-bundle', schema: TUNE_SCHEMA, tables }, problems };
}

/**
 * Merges an exported table or bundle into the store. Each entry goes to the table of the
 * adapter it was measured on (its key says which), so importing another GPU's table never
 * changes what this GPU uses.
 */
export async function importTables(store: TuneStore, text: string): Promise<{ entries: number; adapters: AdapterIdentity[]; problems: string[] }> {
  const { tables, problems } = parseExport(text);
  const groups = new Map<string, { adapter: AdapterIdentity; entries: TuneEntry[] }>();
  for (const t of tables) {
    for (const e of t.entries) {
      const k = adapterStoreKey(e.key.adapter);
      let g = groups.get(k);
      if (!g) groups.set(k, (g = { adapter: e.key.adapter, entries: [] }));
      g.entries.push(e);
    }
  }
  let count = 0;
  for (const [k, g] of groups) {
    await updateStore(store, k, (current) => {
      const r = current === undefined ? undefined : parseTable(current);
      if (r && !r.ok) problems.push(`${k}: existing table ignored (${r.reason}); rebuilt from the import`);
      return tableText(mergeEntries(r?.ok ? r.table : emptyTable(g.adapter), g.entries));
    });
    count += g.entries.length;
  }
  return { entries: count, adapters: [...groups.values()].map((g) => g.adapter), problems };
}
