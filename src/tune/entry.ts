import { adapterStoreKey, keyString, TUNE_SCHEMA, type AdapterIdentity, type TuneKey } from './key.js';

/** One timed candidate: the median over `samples` measurements of `iterations` launches each. */
export interface TimedCandidate {
  config: unknown;
  /** median milliseconds per launch */
  ms: number;
  samples: number;
  iterations: number;
}

export type RejectStage = 'compile' | 'validate' | 'error';

/** A candidate that was never timed, or that was timed but must never be chosen. */
export interface RejectedCandidate {
  config: unknown;
  stage: RejectStage;
  reason: string;
}

/** The result of tuning one (kernel, problem) on one adapter: readable JSON with its timings. */
export interface TuneEntry {
  key: TuneKey;
  config: unknown;
  /** median ms per launch of the chosen config */
  ms: number;
  defaultConfig: unknown;
  /** median ms per launch of the default config (null if the default itself was rejected) */
  defaultMs: number | null;
  /** the exact shape that was timed (the problem key buckets shapes) */
  shape: unknown;
  timing: 'timestamp' | 'wall-clock';
  strategy: 'exhaustive' | 'halving';
  /** false when the budget ran out before every planned candidate was timed */
  complete: boolean;
  budgetMs: number;
  elapsedMs: number;
  tunedAt: string;
  candidates: TimedCandidate[];
  rejected: RejectedCandidate[];
}

/** One adapter's table: the JSON file in Node, one IndexedDB record in the browser. */
export interface TuneTable {
  format: 'wgllm-tune';
  schema: number;
  adapter: AdapterIdentity;
  updatedAt: string;
  entries: TuneEntry[];
}

/** Several adapters' tables, as written by `wgllm tune --export --all`. */
export interface TuneBundle {
  format: 'wgllm-tune-bundle';
  schema: number;
  tables: TuneTable[];
}

export function emptyTable(adapter: AdapterIdentity): TuneTable {
  return { format: 'wgllm-tune', schema: TUNE_SCHEMA, adapter, updatedAt: new Date().toISOString(), entries: [] };
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStr = (v: unknown): v is string => typeof v === 'string';

function isAdapter(v: unknown): v is AdapterIdentity {
  return isObj(v) && isStr(v.vendor) && isStr(v.architecture) && isStr(v.device) && isStr(v.description);
}

function isKey(v: unknown): v is TuneKey {
  return (
    isObj(v) &&
    typeof v.schema === 'number' &&
    isAdapter(v.adapter) &&
    [v.engine, v.runtime, v.kernel, v.source, v.space, v.problem].every(isStr)
  );
}

/** Structural check of one entry read from disk or an import: just what lookups rely on. */
export function isTuneEntry(v: unknown): v is TuneEntry {
  return isObj(v) && isKey(v.key) && 'config' in v && typeof v.ms === 'number' && Array.isArray(v.candidates) && Array.isArray(v.rejected);
}

export type ParseResult = { ok: true; table: TuneTable; dropped: number } | { ok: false; reason: string };

/**
 * Parses one stored table. Never throws: a corrupt file, another format or another schema
 * version comes back as `ok: false` with the reason (the caller warns and rebuilds); malformed
 * entries inside a good table are dropped and counted.
 */
export function parseTable(text: string): ParseResult {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    return { ok: false, reason: `not valid JSON (${(e as Error).message})` };
  }
  if (!isObj(raw) || raw.format !== 'wgllm-tune') return { ok: false, reason: "not a wgllm tune table (format is not 'wgllm-tune')" };
  if (raw.schema !== TUNE_SCHEMA) return { ok: false, reason: `schema version ${String(raw.schema)}, this wgllm reads ${TUNE_SCHEMA}` };
  if (!isAdapter(raw.adapter) || !Array.isArray(raw.entries)) return { ok: false, reason: 'missing adapter or entries' };
  const entries = raw.entries.filter(isTuneEntry);
  return {
    ok: true,
    table: { format: 'wgllm-tune', schema: TUNE_SCHEMA, adapter: raw.adapter, updatedAt: isStr(raw.updatedAt) ? raw.updatedAt : '', entries },
    dropped: raw.entries.length - entries.length,
  };
}

/** Tables from an export (a single table or a bundle); entries of other schemas are dropped. */
export function parseExport(text: string): { tables: TuneTable[]; problems: string[] } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    return { tables: [], problems: [`not valid JSON (${(e as Error).message})`] };
  }
  const items = isObj(raw) && raw.format === 'wgllm-tune-bundle' && Array.isArray(raw.tables) ? raw.tables : [raw];
  const tables: TuneTable[] = [];
  const problems: string[] = [];
  for (const item of items) {
    const r = parseTable(JSON.stringify(item));
    if (r.ok) tables.push(r.table);
    else problems.push(r.reason);
    if (r.ok && r.dropped) problems.push(`${r.dropped} malformed entries skipped`);
  }
  return { tables, problems };
}

/**
 * Merges entries into a table: one entry per key, the most recently tuned wins (two processes
 * that tuned the same key at once both measured the same thing; either result is valid).
 * Entries whose adapter is not the table's are refused: they belong in their own adapter's table.
 */
export function mergeEntries(table: TuneTable, incoming: readonly TuneEntry[]): TuneTable {
  const byKey = new Map<string, TuneEntry>();
  for (const e of table.entries) byKey.set(keyString(e.key), e);
  const home = adapterStoreKey(table.adapter);
  for (const e of incoming) {
    if (adapterStoreKey(e.key.adapter) !== home) continue;
    const k = keyString(e.key);
    const old = byKey.get(k);
    if (!old || (old.tunedAt ?? '') <= (e.tunedAt ?? '')) byKey.set(k, e);
  }
  return { ...table, updatedAt: new Date().toISOString(), entries: [...byKey.values()] };
}

/** Stable JSON text of a table: entries sorted by kernel then problem, so diffs stay readable. */
export function tableText(table: TuneTable): string {
  const entries = [...table.entries].sort(
    (a, b) => a.key.kernel.localeCompare(b.key.kernel) || a.key.problem.localeCompare(b.key.problem) || keyString(a.key).localeCompare(keyString(b.key)),
  );
  return `${JSON.stringify({ ...table, entries }, null, 2)}\n`;
}
