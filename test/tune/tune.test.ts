import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { addSpec, type AddConfig, type AddShape } from '../../src/kernels/add.js';
import { FAMILIES } from '../../src/kernels/conformance.js';
import type { KernelSpec } from '../../src/kernels/spec.js';
import { NodeTuneStore } from '../../src/platform/node/tune-store.js';
import { benchTuning } from '../../src/tune/bench.js';
import { TuneCache } from '../../src/tune/cache.js';
import { parseTable } from '../../src/tune/entry.js';
import { adapterStoreKey, tuneKey } from '../../src/tune/key.js';
import { resolveKernelConfigs, type TuneWorkload } from '../../src/tune/resolve.js';
import { tuneKernel, tuningRunCount } from '../../src/tune/search.js';
import { familyWorkloads } from '../../src/tune/workloads.js';
import { testGpu } from '../support/gpu.js';
import { fakeEntry } from './helpers.js';
import { tempDir } from './temp-dir.js';

// Real WebGPU (SwiftShader here): tiny shapes, small budgets, so each tuning run takes well
// under a second. What is asserted is the tuner's logic, never which config is fastest.
const ctx = await testGpu();
const shape: AddShape = { act: 'f32', n: 999 };
const search = { timing: { samples: 3 } };
const quiet = { onWarning: () => {} };
const small = (id: string): TuneWorkload => {
  const fam = FAMILIES.find((f) => f.spec.id === id)!;
  return { spec: fam.spec, shape: fam.small('f32') };
};
const WG_SPACE = [32, 64, 128, 256];

/** add, restricted to a few workgroup sizes (shorter runs) */
const add4: KernelSpec<AddShape, AddConfig> = { ...addSpec, id: 'add-4', space: () => WG_SPACE.map((wg) => ({ wg })) };

/**
 * add with two broken candidates: wg 32 launches a single workgroup (the fastest config of all,
 * and wrong: most of `out` stays zero); wg 128 does not compile.
 */
const brokenAdd: KernelSpec<AddShape, AddConfig> = {
  ...add4,
  id: 'add-broken',
  build(s, cfg, dev) {
    const p = addSpec.build(s, cfg, dev);
    return cfg.wg === 128 ? { ...p, source: `${p.source}\nfn broken( {` } : p;
  },
  dispatch(s, cfg, dev) {
    const d = addSpec.dispatch(s, cfg, dev);
    return cfg.wg === 32 ? { ...d, grid: [1, 1, 1] } : d;
  },
};

describe('tuneKernel', () => {
  it('rejects a config that compiles to wrong results or does not compile, and never chooses it', async () => {
    const e = await tuneKernel(ctx, brokenAdd, shape, { budgetMs: 20_000, ...search });
    const rejected = Object.fromEntries(e.rejected.map((r) => [(r.config as AddConfig).wg, r]));
    expect(rejected[32]?.stage).toBe('validate');
    expect(rejected[32]?.reason).toMatch(/out\[\d+\] = 0, want/);
    expect(rejected[128]?.stage).toBe('compile');
    expect(e.candidates.map((c) => (c.config as AddConfig).wg).sort((a, b) => a - b)).toEqual([64, 256]);
    expect([64, 256]).toContain((e.config as AddConfig).wg);
    expect(e.defaultConfig).toEqual({ wg: 256 });
    expect(e.defaultMs).toBeGreaterThan(0);
    expect(e.ms).toBeLessThanOrEqual(e.defaultMs!);
    expect(e).toMatchObject({ strategy: 'exhaustive', complete: true, timing: ctx.info.features.timestampQuery ? 'timestamp' : 'wall-clock' });
  });

  it('times with the wall clock when asked (the path for adapters without timestamp queries)', async () => {
    const e = await tuneKernel(ctx, add4, shape, { budgetMs: 20_000, timing: { method: 'wall-clock', samples: 3, targetMs: 2 } });
    expect(e.timing).toBe('wall-clock');
    expect(e.candidates).toHaveLength(WG_SPACE.length);
    for (const c of e.candidates) expect(c.ms).toBeGreaterThan(0);
  });

  it('searches a large space by successive halving within the budget', async () => {
    // 512 configs that all compile to the same pipeline (pad is not used by build), so only timing costs.
    const big: KernelSpec<AddShape, AddConfig & { pad: number }> = {
      ...addSpec,
      id: 'add-big-space',
      space: () => Array.from({ length: 512 }, (_, i) => ({ wg: WG_SPACE[i % 4]!, pad: i })),
      defaultConfig: () => ({ wg: 256, pad: 3 }),
    };
    const e = await tuneKernel(ctx, big, shape, { budgetMs: 1500, exhaustiveLimit: 8, ...search });
    expect(e.strategy).toBe('halving');
    expect(e.candidates.length).toBeGreaterThan(1);
    expect(e.candidates.length).toBeLessThan(512);
    expect(e.candidates.some((c) => (c.config as { pad: number }).pad === 3)).toBe(true); // the default is always timed
    expect(e.elapsedMs).toBeLessThan(1500 + 1000); // one candidate may finish past the budget
  });

  it('validates on the spec\'s smaller validation shape when it builds the same program', async () => {
    const refShapes: number[] = [];
    const spec: KernelSpec<AddShape, AddConfig> = {
      ...add4,
      id: 'add-validation-shape',
      validationShape: (s) => ({ ...s, n: 100 }),
      reference(inputs, s) {
        refShapes.push(s.n);
        return addSpec.reference(inputs, s);
      },
    };
    const e = await tuneKernel(ctx, spec, { act: 'f32', n: 40_000 }, { budgetMs: 20_000, ...search });
    expect(refShapes).toEqual([100]); // computed once, on the small shape
    expect(e.rejected).toEqual([]);
    expect(e.shape).toEqual({ act: 'f32', n: 40_000 }); // timed on the real one
  });

  it('rejects a config whose launch is invalid only on the timed shape, instead of timing an empty pass', async () => {
    const spec: KernelSpec<AddShape, AddConfig> = {
      ...add4,
      id: 'add-bad-grid',
      validationShape: (s) => ({ ...s, n: 100 }),
      dispatch(s, cfg, dev) {
        const d = addSpec.dispatch(s, cfg, dev);
        return cfg.wg === 64 && s.n > 1000 ? { ...d, grid: [dev.limits.maxComputeWorkgroupsPerDimension + 1, 1, 1] } : d;
      },
    };
    const e = await tuneKernel(ctx, spec, { act: 'f32', n: 5000 }, { budgetMs: 20_000, ...search });
    expect(e.rejected).toMatchObject([{ config: { wg: 64 }, stage: 'error', reason: expect.stringMatching(/validation/i) }]);
    expect(e.candidates.map((c) => (c.config as AddConfig).wg)).not.toContain(64);
  });
});

describe('resolveKernelConfigs', () => {
  it('tunes misses once; a second start with the same adapter makes zero tuning runs and resolves in < 50 ms', async () => {
    const dir = tempDir();
    const workload = [small('add'), small('swiglu'), { spec: add4, shape }, small('add')];
    const first = await resolveKernelConfigs(ctx, workload, { tune: 'auto', store: new NodeTuneStore({ dir }), budgetMs: 30_000, search, ...quiet });
    expect(first.stats).toMatchObject({ workloads: 4, problems: 3, hits: 0, misses: 3, tuned: 3, tuningRuns: 3 });
    expect(first.list().every((r) => r.from === 'tuned')).toBe(true);

    const runsBefore = tuningRunCount();
    const t0 = performance.now();
    const cache = await TuneCache.open(new NodeTuneStore({ dir }), ctx.info, quiet);
    const second = await resolveKernelConfigs(ctx, workload, { tune: 'auto', cache, budgetMs: 30_000 });
    const ms = performance.now() - t0;
    expect(tuningRunCount() - runsBefore).toBe(0);
    expect(second.stats).toMatchObject({ hits: 3, misses: 0, tuningRuns: 0 });
    expect(second.stats.resolveMs).toBeLessThan(50);
    expect(ms).toBeLessThan(50);
    for (const w of workload) expect(second.get(w.spec, w.shape)).toEqual(first.get(w.spec, w.shape));
    expect(() => second.get(addSpec, { act: 'f32', n: 1 << 20 })).toThrow(/not in the workload/);
  });

  it('a changed WGSL source invalidates only that kernel\'s entries', async () => {
    const dir = tempDir();
    const workload = [{ spec: add4, shape }, small('swiglu')];
    await resolveKernelConfigs(ctx, workload, { tune: 'auto', store: new NodeTuneStore({ dir }), budgetMs: 30_000, search, ...quiet });
    const edited: KernelSpec<AddShape, AddConfig> = { ...add4, sources: [`${add4.sources[0]}\n// edited`] };
    const r = await resolveKernelConfigs(ctx, [{ spec: edited, shape }, small('swiglu')], {
      tune: 'auto',
      store: new NodeTuneStore({ dir }),
      budgetMs: 30_000,
      search,
      ...quiet,
    });
    expect(r.stats).toMatchObject({ hits: 1, misses: 1, tuningRuns: 1 });
    expect(r.list().find((c) => c.kernel === 'swiglu')?.from).toBe('cache');
    expect(r.list().find((c) => c.kernel === 'add-4')?.from).toBe('tuned');
    // The old add entry is still there (and still used by the unedited spec).
    const again = await resolveKernelConfigs(ctx, workload, { tune: 'off', store: new NodeTuneStore({ dir }), ...quiet });
    expect(again.stats).toMatchObject({ hits: 2, tuningRuns: 0 });
  });

  it("with tune: 'off' uses defaults for misses and neither tunes nor writes", async () => {
    const dir = tempDir();
    const store = new NodeTuneStore({ dir });
    const r = await resolveKernelConfigs(ctx, [{ spec: add4, shape }], { store, ...quiet });
    expect(r.stats).toMatchObject({ misses: 1, tuned: 0, tuningRuns: 0 });
    expect(r.get(add4, shape)).toEqual({ wg: 256 });
    expect(await store.keys()).toEqual([]);
  });

  // Resolving hits must not tune, compile or read per entry: all of that takes seconds. The time
  // itself is a speed figure, not a test's (it grows with the spaces hashed for the keys: ~190
  // entries and ~20k configs here, 60-200 ms on a 2-core CI machine); the bound only catches work
  // that should not happen at all.
  it('resolves a large workload of cache hits without tuning, in well under a second', async () => {
    const dir = tempDir();
    const store = new NodeTuneStore({ dir });
    const workload: TuneWorkload[] = familyWorkloads(ctx.info);
    for (let i = 0; i < 40; i++) workload.push({ spec: addSpec, shape: { act: 'f32', n: 2 ** (i % 26) + i } });
    const cache = await TuneCache.open(store, ctx.info, quiet);
    const entries = workload.map((w) => ({ ...fakeEntry(tuneKey(ctx.info, w.spec, w.shape)), config: w.spec.defaultConfig(w.shape, ctx.info) }));
    await cache.record(entries);
    const t0 = performance.now();
    const fresh = await TuneCache.open(new NodeTuneStore({ dir }), ctx.info, quiet);
    const r = await resolveKernelConfigs(ctx, workload, { tune: 'auto', cache: fresh });
    const ms = performance.now() - t0;
    expect(r.stats.misses).toBe(0);
    expect(r.stats.hits).toBeGreaterThan(40);
    expect(r.stats).toMatchObject({ tuned: 0, tuningRuns: 0 });
    expect(ms).toBeLessThan(1000);
    const file = JSON.parse(readFileSync(join(dir, `${adapterStoreKey(ctx.info)}.json`), 'utf8'));
    expect(parseTable(JSON.stringify(file)).ok).toBe(true);
  });

  it('survives a kernel none of whose configs compile: warns, keeps the default, bench reports it as failed', async () => {
    const hopeless: KernelSpec<AddShape, AddConfig> = {
      ...add4,
      id: 'add-hopeless',
      build: (s, cfg, dev) => ({ ...addSpec.build(s, cfg, dev), source: 'fn broken( {' }),
    };
    const warnings: string[] = [];
    const cache = await TuneCache.open(undefined, ctx.info, quiet);
    const report = await benchTuning(ctx, [{ spec: hopeless, shape }, { spec: add4, shape }], {
      cache,
      budgetMs: 20_000,
      timing: { samples: 2 },
      rounds: 1,
      onWarning: (m) => warnings.push(m),
    }).catch((e: unknown) => e);
    expect(report).toMatchObject({ rows: [{ kernel: 'add-4' }], failed: [{ kernel: 'add-hopeless' }] });
    const r = await resolveKernelConfigs(ctx, [{ spec: hopeless, shape }], { tune: 'auto', cache, onWarning: (m) => warnings.push(m) });
    expect(r.get(hopeless, shape)).toEqual({ wg: 256 });
    expect(r.list()[0]).toMatchObject({ from: 'default', note: expect.stringMatching(/no config of add-hopeless .* passed validation/) });
    expect(warnings).toHaveLength(2); // one per tuning attempt: failures are not cached
  });
});
