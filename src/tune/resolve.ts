import { WgllmError, isWgllmError } from '../core/errors.js';
import type { GpuContext } from '../gpu/context.js';
import type { KernelSpec } from '../kernels/spec.js';
import { TuneCache } from './cache.js';
import type { TuneEntry } from './entry.js';
import { configKey, tuneKey } from './key.js';
import { tuneKernel, tuningRunCount, type TuneOptions, type TuneProgress } from './search.js';
import type { TuneStore } from './store.js';

/**
 * One kernel launch the caller will make: a spec and a shape. A model lists every (kernel,
 * shape) it dispatches (one per distinct problem key is enough); `wgllm tune` lists the
 * conformance families' shapes.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export interface TuneWorkload<S = any, C = any> {
  spec: KernelSpec<S, C>;
  shape: S;
  /** for progress output */
  label?: string;
}

export type ResolveProgress =
  | TuneProgress
  | { type: 'resolved'; total: number; hits: number; misses: number; resolveMs: number };

export interface ResolveOptions {
  /** 'off' (default): misses use defaultConfig; 'auto': misses are tuned now and stored */
  tune?: 'off' | 'auto';
  /** total tuning budget over all misses in ms (default 60 s); split evenly, unused time rolls over */
  budgetMs?: number;
  /** an open cache; else one is opened on `store` (in memory without either) */
  cache?: TuneCache;
  store?: TuneStore;
  /** re-tune even entries that hit (wgllm tune --force) */
  force?: boolean;
  onProgress?: (event: ResolveProgress) => void;
  onWarning?: (message: string) => void;
  /** search and timing options for tuning runs */
  search?: Omit<TuneOptions, 'budgetMs' | 'onProgress'>;
}

export interface ResolvedConfig {
  kernel: string;
  problem: string;
  config: unknown;
  from: 'cache' | 'tuned' | 'default';
  /** the stored entry behind a 'cache' or 'tuned' config */
  entry?: TuneEntry;
  /** why a default was used although tuning was asked for */
  note?: string;
}

export interface ResolveStats {
  workloads: number;
  /** distinct (kernel, problem) pairs */
  problems: number;
  hits: number;
  misses: number;
  tuned: number;
  /** tuning runs made by this call (0 when everything hit) */
  tuningRuns: number;
  /** ms spent computing keys and looking them up (plus opening the cache if done here) */
  resolveMs: number;
  tuneMs: number;
}

/**
 * The configs a model uses, fixed at load: one per (kernel, problem key). The model asks once
 * per kernel it builds; nothing is looked up per dispatch.
 */
export class KernelConfigs {
  constructor(
    readonly byKey: ReadonlyMap<string, ResolvedConfig>,
    readonly stats: ResolveStats,
    readonly cache: TuneCache,
  ) {}

  get<S, C>(spec: KernelSpec<S, C>, shape: S): C {
    const r = this.byKey.get(configKey(spec.id, spec.problemKey(shape)));
    if (!r) {
      throw new WgllmError(
        'invalid_argument',
        `${spec.id} ${spec.problemKey(shape)} was not in the workload given to resolveKernelConfigs; add it there`,
      );
    }
    return r.config as C;
  }

  /** every resolved config, for logs */
  list(): ResolvedConfig[] {
    return [...this.byKey.values()];
  }
}

/**
 * Called once at model load: looks up every workload's key in the tune cache (every part of
 * the key must match) and returns the configs to use. Misses take the spec's defaultConfig, or
 * with tune: 'auto' are tuned within the budget (validated against the CPU reference, timed,
 * stored for the next start). A failed tuning run is a warning and falls back to the default.
 */
export async function resolveKernelConfigs(ctx: GpuContext, workload: readonly TuneWorkload[], opts: ResolveOptions = {}): Promise<KernelConfigs> {
  const t0 = performance.now();
  const warn = opts.onWarning ?? ((m: string) => console.warn(`wgllm: ${m}`));
  const cache = opts.cache ?? (await TuneCache.open(opts.store, ctx.info, { onWarning: warn }));
  const runsBefore = tuningRunCount();
  const byKey = new Map<string, ResolvedConfig>();
  const misses: { ck: string; w: TuneWorkload; problem: string }[] = [];
  let hits = 0;
  for (const w of workload) {
    const problem = w.spec.problemKey(w.shape);
    const ck = configKey(w.spec.id, problem);
    if (byKey.has(ck)) continue;
    const base = { kernel: w.spec.id, problem };
    const reasons = w.spec.supports(w.shape, ctx.info);
    if (reasons.length) {
      byKey.set(ck, { ...base, config: w.spec.defaultConfig(w.shape, ctx.info), from: 'default', note: `unsupported here: ${reasons.join('; ')}` });
      continue;
    }
    const entry = opts.force ? undefined : cache.lookup(tuneKey(ctx.info, w.spec, w.shape));
    if (entry) {
      hits++;
      byKey.set(ck, { ...base, config: entry.config, from: 'cache', entry });
    } else {
      byKey.set(ck, { ...base, config: w.spec.defaultConfig(w.shape, ctx.info), from: 'default' });
      misses.push({ ck, w, problem });
    }
  }
  const resolveMs = performance.now() - t0;
  opts.onProgress?.({ type: 'resolved', total: byKey.size, hits, misses: misses.length, resolveMs });

  const t1 = performance.now();
  let tuned = 0;
  if (opts.tune === 'auto' && misses.length) {
    const budget = opts.budgetMs ?? 60_000;
    for (const [i, m] of misses.entries()) {
      // Even split of what is left, so a kernel that finishes early gives its time to the rest.
      const budgetMs = (budget - (performance.now() - t1)) / (misses.length - i);
      if (budgetMs <= 0) {
        byKey.get(m.ck)!.note = 'tuning budget exhausted';
        continue;
      }
      const progress = (e: TuneProgress) =>
        opts.onProgress?.(e.type === 'candidate' ? e : { ...e, index: i + 1, total: misses.length });
      try {
        const entry = await tuneKernel(ctx, m.w.spec, m.w.shape, { ...opts.search, budgetMs, onProgress: progress });
        // Stored one by one, so an interrupted session keeps what it finished.
        await cache.record([entry]);
        byKey.set(m.ck, { kernel: m.w.spec.id, problem: m.problem, config: entry.config, from: 'tuned', entry });
        tuned++;
      } catch (e) {
        if (isWgllmError(e, 'device_lost')) throw e;
        const msg = `tuning ${m.w.spec.id} ${m.problem} failed, using its default config: ${(e as Error).message}`;
        byKey.get(m.ck)!.note = msg;
        warn(msg);
      }
    }
  }
  const stats: ResolveStats = {
    workloads: workload.length,
    problems: byKey.size,
    hits,
    misses: misses.length,
    tuned,
    tuningRuns: tuningRunCount() - runsBefore,
    resolveMs,
    tuneMs: performance.now() - t1,
  };
  return new KernelConfigs(byKey, stats, cache);
}
