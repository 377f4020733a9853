import { Rng } from '../core/random.js';
import { WgllmError } from '../core/errors.js';
import type { GpuContext } from '../gpu/context.js';
import type { KernelSpec } from '../kernels/spec.js';
import type { RejectedCandidate, TimedCandidate, TuneEntry } from './entry.js';
import { stableJson } from './hash.js';
import { tuneKey } from './key.js';
import { KernelBench, median, type TimingOptions } from './measure.js';
import { CandidateValidator, withErrorScopes } from './validate.js';

export interface TuneOptions {
  /** wall-clock budget for this kernel, validation and compilation included (default 10 s) */
  budgetMs?: number;
  timing?: TimingOptions;
  /** spaces up to this size are searched exhaustively (default 24); larger ones by halving */
  exhaustiveLimit?: number;
  /**
   * a config other than the default is chosen only if it beats the default by this fraction
   * (default 0.02), so timing noise does not swap a config for an equal one
   */
  minGain?: number;
  /** seed for inputs and for sampling the space */
  seed?: number;
  onProgress?: (event: TuneProgress) => void;
}

/** Progress of tuning runs, for progress bars and logs. */
export type TuneProgress =
  | { type: 'tune-start'; kernel: string; problem: string; candidates: number; budgetMs: number; index?: number; total?: number }
  | {
      type: 'candidate';
      kernel: string;
      problem: string;
      config: unknown;
      /** median ms per launch; absent if rejected */
      ms?: number;
      rejected?: string;
      done: number;
      planned: number;
      elapsedMs: number;
    }
  | { type: 'tune-done'; kernel: string; problem: string; entry: TuneEntry; index?: number; total?: number };

const counters = { runs: 0 };

/** How many tuning runs (tuneKernel calls) this process has made: a warm start makes none. */
export function tuningRunCount(): number {
  return counters.runs;
}

const DEFAULT_BUDGET_MS = 10_000;
const round6 = (x: number) => Number(x.toPrecision(6));

/**
 * Tunes one kernel on one shape: validates each candidate against the CPU reference, times
 * the ones that pass, and returns the entry to store (the caller persists it). Small spaces
 * are searched exhaustively; large ones by successive halving over a random sample sized to
 * the budget. The default config is always evaluated first, so every entry has a baseline and
 * the budget never leaves the search with nothing. A rejected config is never chosen.
 */
export async function tuneKernel<S, C>(ctx: GpuContext, spec: KernelSpec<S, C>, shape: S, opts: TuneOptions = {}): Promise<TuneEntry> {
  const t0 = performance.now();
  const dev = ctx.info;
  const reasons = spec.supports(shape, dev);
  if (reasons.length) throw new WgllmError('unsupported', `${spec.id} cannot run ${spec.problemKey(shape)} here: ${reasons.join('; ')}`);
  counters.runs++;
  const budgetMs = opts.budgetMs ?? DEFAULT_BUDGET_MS;
  const space = spec.space(shape, dev);
  const key = tuneKey(dev, spec, shape, space);
  const defaultConfig = spec.defaultConfig(shape, dev);
  const byJson = new Map<string, C>([[stableJson(defaultConfig), defaultConfig]]);
  for (const c of space) if (!byJson.has(stableJson(c))) byJson.set(stableJson(c), c);
  const all = [...byJson.values()];
  const seed = opts.seed ?? 0x5eed;
  const elapsed = () => performance.now() - t0;
  const overBudget = () => elapsed() >= budgetMs;

  const strategy = all.length <= (opts.exhaustiveLimit ?? 24) ? 'exhaustive' : 'halving';
  // One set of inputs for timing and (when the spec names no smaller shape) validation: large
  // shapes make it expensive.
  const inputs = spec.makeInputs(shape, seed);
  const validator = new CandidateValidator(ctx, spec, shape, seed, inputs);
  const bench = KernelBench.create(ctx, spec, shape, inputs, opts.timing);
  const timed = new Map<string, { config: C; samples: number[]; iterations: number }>();
  const rejected: RejectedCandidate[] = [];
  const validated = new Set<string>();
  let planned = all.length;
  let done = 0;
  const ev = (config: C, extra: { ms?: number; rejected?: string }) =>
    opts.onProgress?.({ type: 'candidate', kernel: spec.id, problem: key.problem, config, ...extra, done, planned, elapsedMs: elapsed() });

  /** validates (once), then adds `samples` measurements; false if the config is rejected */
  const evaluate = async (cfg: C, samples: number): Promise<boolean> => {
    const k = stableJson(cfg);
    if (!validated.has(k)) {
      const v = await validator.check(cfg);
      if (!v.ok) {
        rejected.push({ config: cfg, stage: v.stage, reason: v.reason });
        done++;
        ev(cfg, { rejected: `${v.stage}: ${v.reason}` });
        return false;
      }
      validated.add(k);
    }
    try {
      // The timed shape may be larger than the validated one: a launch invalid only there
      // (grid over the limits) must not be timed as an empty, very fast pass.
      const m = await withErrorScopes(ctx.device, () => bench.measure(cfg, samples, t0 + budgetMs));
      const t = timed.get(k) ?? { config: cfg, samples: [], iterations: m.iterations };
      t.samples.push(...m.samples);
      timed.set(k, t);
      if (t.samples.length === m.samples.length) done++;
      ev(cfg, { ms: median(t.samples) });
      return true;
    } catch (e) {
      if ((e as { code?: string }).code === 'device_lost') throw e;
      rejected.push({ config: cfg, stage: 'error', reason: String((e as Error)?.message ?? e).split('\n')[0]!.slice(0, 400) });
      timed.delete(k);
      done++;
      ev(cfg, { rejected: `error: ${rejected[rejected.length - 1]!.reason}` });
      return false;
    }
  };

  let complete = true;
  try {
    opts.onProgress?.({ type: 'tune-start', kernel: spec.id, problem: key.problem, candidates: all.length, budgetMs });
    if (strategy === 'exhaustive') {
      for (const cfg of all) {
        if (cfg !== defaultConfig && overBudget()) {
          complete = false;
          break;
        }
        await evaluate(cfg, bench.defaultSamples);
      }
      // A second look at the front-runners and the default, merged with the first: the default
      // went first, when caches and clocks were coldest, and noise can crown a lucky config.
      const front = [...timed.values()].sort((a, b) => median(a.samples) - median(b.samples)).slice(0, 2);
      const dflt = timed.get(stableJson(defaultConfig));
      for (const t of new Set(dflt ? [dflt, ...front] : front)) {
        if (overBudget() || timed.size < 2) break;
        await evaluate(t.config, bench.defaultSamples);
      }
    } else {
      complete = await halving(all, defaultConfig, new Rng(seed), evaluate, timed, overBudget, elapsed, budgetMs, (n) => (planned = n));
    }
  } finally {
    bench.destroy();
  }

  const candidates: TimedCandidate[] = [...timed.values()]
    .map((t) => ({ config: t.config as unknown, ms: round6(median(t.samples)), samples: t.samples.length, iterations: t.iterations }))
    .sort((a, b) => a.ms - b.ms);
  const def = timed.get(stableJson(defaultConfig));
  const defMs = def ? round6(median(def.samples)) : null;
  let best = candidates[0];
  if (best && defMs !== null && best.ms > defMs / (1 + (opts.minGain ?? 0.02))) {
    best = candidates.find((c) => stableJson(c.config) === stableJson(defaultConfig))!;
  }
  if (!best) {
    throw new WgllmError(
      'internal',
      `no config of ${spec.id} (${key.problem}) passed validation on this adapter (${rejected.length} rejected); ` +
        `first: ${rejected[0]?.stage}: ${rejected[0]?.reason.slice(0, 200)}`,
    );
  }
  const entry: TuneEntry = {
    key,
    config: best.config,
    ms: best.ms,
    defaultConfig,
    defaultMs: defMs,
    shape,
    timing: bench.method,
    strategy,
    complete,
    budgetMs,
    elapsedMs: Math.round(elapsed()),
    tunedAt: new Date().toISOString(),
    candidates,
    rejected,
  };
  opts.onProgress?.({ type: 'tune-done', kernel: spec.id, problem: key.problem, entry });
  return entry;
}

/**
 * Successive halving: time the default, then a random sample of the others with few samples
 * each, keep the faster half with twice the samples, and so on down to one. The first round
 * (which also pays compilation and validation) is cut short once it is projected to use more
 * than ~45% of the budget, leaving the rest for the rounds that separate the front-runners.
 * Returns whether every config of the space was looked at within budget.
 */
async function halving<C>(
  all: C[],
  defaultConfig: C,
  rng: Rng,
  evaluate: (cfg: C, samples: number) => Promise<boolean>,
  timed: Map<string, { samples: number[] }>,
  overBudget: () => boolean,
  elapsed: () => number,
  budgetMs: number,
  setPlanned: (n: number) => void,
): Promise<boolean> {
  let samples = 2;
  await evaluate(defaultConfig, samples);
  const rest = all.filter((c) => c !== defaultConfig);
  for (let i = rest.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [rest[i], rest[j]] = [rest[j]!, rest[i]!];
  }
  const start = elapsed();
  const firstRoundEnd = start + 0.45 * (budgetMs - start);
  let survivors = [defaultConfig];
  for (const [i, cfg] of rest.entries()) {
    if (overBudget()) return false;
    await evaluate(cfg, samples);
    survivors.push(cfg);
    const perCandidate = (elapsed() - start) / (i + 1);
    if (i + 1 < rest.length && elapsed() + perCandidate > firstRoundEnd) break;
  }
  const sawAll = survivors.length === all.length;
  setPlanned(survivors.length);
  for (;;) {
    const alive = survivors.filter((c) => timed.has(stableJson(c)));
    alive.sort((a, b) => median(timed.get(stableJson(a))!.samples) - median(timed.get(stableJson(b))!.samples));
    if (alive.length <= 1) break;
    survivors = alive.slice(0, Math.ceil(alive.length / 2));
    if (survivors.length === 1) break;
    samples *= 2;
    for (const cfg of survivors) {
      if (overBudget()) return false;
      await evaluate(cfg, samples);
    }
  }
  return sawAll;
}
