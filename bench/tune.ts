/**
 * Tuned vs default time per kernel and shape, and the geometric-mean speedup, as JSON in
 * bench/results/tune-<adapter>.json. Runs on whatever adapter Dawn picks (SwiftShader here,
 * the NVIDIA GPU on the device machine).
 *
 * From source (Vite's module runner compiles the TypeScript and the ?raw WGSL imports):
 *   node -e "import('vite').then((v) => v.runnerImport('./bench/tune.ts'))" -- [options]
 * From a build (e.g. the GPU machine, which has no dev dependencies): the same report comes from
 *   node dist/cli.js tune --families --force --bench OUT.json [--budget S] [--tiny]
 *
 * Options: --tiny (one small shape per family), --budget SECONDS (total tuning time, default
 * 120), --kernel ID (repeatable), --use-cache (start from the user's tune cache instead of an
 * empty one, so only misses are tuned), --out FILE.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  acquireGpu,
  adapterStoreKey,
  benchTuning,
  createNodePlatform,
  createNodeTuneStore,
  familyWorkloads,
  formatBenchReport,
  TuneCache,
} from '../src/node.js';

process.env.XDG_RUNTIME_DIR ??= '/tmp';
const { values } = parseArgs({
  args: process.argv.slice(1).filter((a) => a !== '--'),
  options: {
    tiny: { type: 'boolean' },
    budget: { type: 'string' },
    kernel: { type: 'string', multiple: true },
    'use-cache': { type: 'boolean' },
    out: { type: 'string' },
  },
});
const budgetMs = Number(values.budget ?? 120) * 1000;
const filters = values.kernel ?? [];

const ctx = await acquireGpu(createNodePlatform());
try {
  // An empty cache by default, so every kernel is tuned now and the report shows fresh timings.
  const store = values['use-cache'] ? createNodeTuneStore() : createNodeTuneStore({ dir: mkdtempSync(join(tmpdir(), 'wgllm-bench-tune-')) });
  const cache = await TuneCache.open(store, ctx.info);
  const workload = familyWorkloads(ctx.info, {
    sizes: values.tiny ? 'tiny' : 'representative',
    ...(filters.length ? { filter: (id: string) => filters.some((f) => id.includes(f)) } : {}),
  });
  console.log(`bench tune: ${workload.length} workloads on ${ctx.info.vendor} ${ctx.info.device || ctx.info.architecture}, budget ${budgetMs / 1000} s`);
  const report = await benchTuning(ctx, workload, {
    cache,
    budgetMs,
    onProgress: (e) => {
      if (e.type === 'tune-done') console.log(`  tuned ${e.kernel} ${e.problem} in ${(e.entry.elapsedMs / 1000).toFixed(1)} s`);
    },
  });
  console.log(formatBenchReport(report));
  const out = values.out ?? join('bench', 'results', `tune-${adapterStoreKey(ctx.info)}.json`);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`wrote ${out}`);
} finally {
  ctx.destroy();
}
