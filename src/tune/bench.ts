import type { GpuContext } from '../gpu/context.js';
import { WGLLM_VERSION } from '../version.js';
import type { TuneCache } from './cache.js';
import { stableJson } from './hash.js';
import { KernelBench, median, type TimingOptions } from './measure.js';
import { resolveKernelConfigs, type ResolveProgress, type TuneWorkload } from './resolve.js';

export interface TuneBenchRow {
  kernel: string;
  problem: string;
  label: string;
  shape: unknown;
  /** where the tuned config came from: this run's tuning or the cache */
  from: 'cache' | 'tuned' | 'default';
  defaultConfig: unknown;
  tunedConfig: unknown;
  /** median ms per launch, both re-timed side by side here */
  defaultMs: number;
  tunedMs: number;
  /** defaultMs / tunedMs */
  speedup: number;
  candidates: number;
  rejected: number;
}

export interface TuneBenchReport {
  bench: 'tune';
  version: string;
  date: string;
  device: { vendor: string; architecture: string; device: string; description: string; runtime: string };
  timing: 'timestamp' | 'wall-clock';
  budgetMs: number;
  tuneMs: number;
  rows: TuneBenchRow[];
  /** kernels whose default or tuned config could not be timed here (e.g. it does not compile) */
  failed: { kernel: string; problem: string; label: string; error: string }[];
  /** geometric mean of the speedups (1 = tuning gained nothing) */
  geomeanSpeedup: number;
}

export interface TuneBenchOptions {
  cache: TuneCache;
  /** total tuning budget in ms for the misses */
  budgetMs: number;
  /** re-tune entries the cache already has */
  force?: boolean;
  timing?: TimingOptions;
  /** alternating default/tuned rounds (default 3); each round takes `timing.samples` samples */
  rounds?: number;
  onProgress?: (event: ResolveProgress | { type: 'bench'; label: string; index: number; total: number }) => void;
  onWarning?: (message: string) => void;
}

const round4 = (x: number) => Number(x.toPrecision(4));

/**
 * Tuned versus default, per kernel and shape: resolves the workload (tuning misses), then
 * re-times the default and the chosen config on the same buffers in alternating rounds, so
 * both see the same clocks and thermal state. The speedups' geometric mean summarizes it.
 */
export async function benchTuning(ctx: GpuContext, workload: readonly TuneWorkload[], opts: TuneBenchOptions): Promise<TuneBenchReport> {
  const configs = await resolveKernelConfigs(ctx, workload, {
    tune: 'auto',
    cache: opts.cache,
    budgetMs: opts.budgetMs,
    force: opts.force ?? false,
    ...(opts.timing ? { search: { timing: opts.timing } } : {}),
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    ...(opts.onWarning ? { onWarning: opts.onWarning } : {}),
  });
  const rows: TuneBenchRow[] = [];
  const failed: TuneBenchReport['failed'] = [];
  let timing: TuneBenchReport['timing'] = 'wall-clock';
  const seen = new Set<string>();
  const todo = workload.filter((w) => {
    const k = `${w.spec.id}|${w.spec.problemKey(w.shape)}`;
    if (seen.has(k) || w.spec.supports(w.shape, ctx.info).length) return false;
    seen.add(k);
    return true;
  });
  for (const [i, w] of todo.entries()) {
    const label = w.label ?? `${w.spec.id} ${w.spec.problemKey(w.shape)}`;
    opts.onProgress?.({ type: 'bench', label, index: i + 1, total: todo.length });
    const resolved = configs.byKey.get(`${w.spec.id}|${w.spec.problemKey(w.shape)}`)!;
    const def = w.spec.defaultConfig(w.shape, ctx.info);
    const tunedCfg = resolved.config;
    let bench: KernelBench<unknown, unknown> | undefined;
    try {
      bench = KernelBench.create(ctx, w.spec, w.shape, 7, opts.timing);
      timing = bench.method;
      const d: number[] = [];
      const t: number[] = [];
      const same = stableJson(def) === stableJson(tunedCfg);
      for (let r = 0; r < (opts.rounds ?? 3); r++) {
        const md = await bench.measure(def);
        d.push(...md.samples);
        if (same) t.push(...md.samples);
        else t.push(...(await bench.measure(tunedCfg)).samples);
      }
      const defaultMs = median(d);
      const tunedMs = median(t);
      rows.push({
        kernel: w.spec.id,
        problem: resolved.problem,
        label,
        shape: w.shape,
        from: resolved.from,
        defaultConfig: def,
        tunedConfig: tunedCfg,
        defaultMs: round4(defaultMs),
        tunedMs: round4(tunedMs),
        speedup: round4(defaultMs / tunedMs),
        candidates: resolved.entry?.candidates.length ?? 0,
        rejected: resolved.entry?.rejected.length ?? 0,
      });
    } catch (e) {
      if ((e as { code?: string }).code === 'device_lost') throw e;
      failed.push({ kernel: w.spec.id, problem: resolved.problem, label, error: String((e as Error)?.message ?? e).split('\n')[0]!.slice(0, 300) });
    } finally {
      bench?.destroy();
    }
  }
  const logSum = rows.reduce((s, r) => s + Math.log(r.speedup), 0);
  const dev = ctx.info;
  return {
    bench: 'tune',
    version: WGLLM_VERSION,
    date: new Date().toISOString(),
    device: { vendor: dev.vendor, architecture: dev.architecture, device: dev.device, description: dev.description, runtime: dev.runtime },
    timing,
    budgetMs: opts.budgetMs,
    tuneMs: Math.round(configs.stats.tuneMs),
    rows,
    failed,
    geomeanSpeedup: rows.length ? round4(Math.exp(logSum / rows.length)) : 1,
  };
}

/** A plain-text table of a bench report. */
export function formatBenchReport(r: TuneBenchReport): string {
  const lines = [`${'kernel / shape'.padEnd(44)}${'default ms'.padStart(12)}${'tuned ms'.padStart(12)}${'speedup'.padStart(9)}  tuned config`];
  for (const row of r.rows) {
    lines.push(
      `${row.label.slice(0, 43).padEnd(44)}${row.defaultMs.toPrecision(4).padStart(12)}${row.tunedMs.toPrecision(4).padStart(12)}` +
        `${row.speedup.toFixed(2).padStart(9)}  ${JSON.stringify(row.tunedConfig)}`,
    );
  }
  for (const f of r.failed) lines.push(`${f.label.slice(0, 43).padEnd(44)}not timed: ${f.error.slice(0, 120)}`);
  lines.push(`geometric-mean speedup ${r.geomeanSpeedup.toFixed(3)} over ${r.rows.length} kernels/shapes (${r.timing} timing)`);
  return lines.join('\n');
}
