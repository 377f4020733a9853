import { isWgllmError } from '../core/errors.js';
import type { GpuContext } from '../gpu/context.js';
import type { KernelSpec } from '../kernels/spec.js';
import type { TuneCache } from './cache.js';
import { tuneKey } from './key.js';
import { tuneKernel, tuningRunCount, type TuneProgress } from './search.js';

export interface TunedConfigOptions {
  /** 'off': misses use the kernel's default; 'auto': misses are tuned (within the budget) and stored */
  tune?: 'off' | 'auto';
  /** total tuning budget over every miss, ms (default 60 s) */
  budgetMs?: number;
  /** budget per missed kernel, ms (default 5 s) */
  perKernelMs?: number;
  onProgress?: (e: TuneProgress) => void;
  onWarning?: (m: string) => void;
}

export interface TunedConfigStats {
  lookups: number;
  hits: number;
  misses: number;
  tuned: number;
  tuningRuns: number;
  /** ms spent in lookups (what a load pays when everything hits) */
  lookupMs: number;
}

/**
 * A config source for model load: each (kernel, shape) the model builds is looked up in the tune
 * cache once, when the model builds that kernel (never per dispatch). A miss takes the kernel's
 * default, or is tuned now with tune: 'auto'.
 */
export function tunedConfigs(ctx: GpuContext, cache: TuneCache, opts: TunedConfigOptions = {}) {
  const stats: TunedConfigStats = { lookups: 0, hits: 0, misses: 0, tuned: 0, tuningRuns: 0, lookupMs: 0 };
  const runsAtStart = tuningRunCount();
  const started = performance.now();
  const memo = new Map<string, unknown>();
  return {
    stats,
    async get<S, C>(spec: KernelSpec<S, C>, shape: S): Promise<C> {
      const t0 = performance.now();
      const key = tuneKey(ctx.info, spec, shape);
      const memoKey = `${spec.id}|${spec.problemKey(shape)}`;
      if (memo.has(memoKey)) return memo.get(memoKey) as C;
      stats.lookups++;
      const entry = cache.lookup(key);
      stats.lookupMs += performance.now() - t0;
      if (entry) {
        stats.hits++;
        memo.set(memoKey, entry.config);
        return entry.config as C;
      }
      stats.misses++;
      let config = spec.defaultConfig(shape, ctx.info);
      const left = (opts.budgetMs ?? 60_000) - (performance.now() - started);
      if (opts.tune === 'auto' && left > 0 && spec.supports(shape, ctx.info).length === 0) {
        try {
          const tuned = await tuneKernel(ctx, spec, shape, {
            budgetMs: Math.min(left, opts.perKernelMs ?? 5_000),
            ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
          });
          await cache.record([tuned]);
          config = tuned.config as C;
          stats.tuned++;
        } catch (e) {
          if (isWgllmError(e, 'device_lost')) throw e;
          (opts.onWarning ?? ((m: string) => console.warn(`wgllm: ${m}`)))(
            `tuning ${spec.id} ${spec.problemKey(shape)} failed, using its default: ${(e as Error).message}`,
          );
        }
        stats.tuningRuns = tuningRunCount() - runsAtStart;
      }
      memo.set(memoKey, config);
      return config;
    },
  };
}
