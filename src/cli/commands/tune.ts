import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ActDType } from '../../core/dtype.js';
import { WgllmError } from '../../core/errors.js';
import type { GpuContext } from '../../gpu/context.js';
import { FAMILIES } from '../../kernels/conformance.js';
import { createNodeTuneStore, NodeTuneStore } from '../../platform/node/tune-store.js';
import { benchTuning, formatBenchReport } from '../../tune/bench.js';
import { exportAllTables, importTables, TuneCache } from '../../tune/cache.js';
import { tableText } from '../../tune/entry.js';
import { formatEntries } from '../../tune/format.js';
import { resolveKernelConfigs, type ResolveProgress, type TuneWorkload } from '../../tune/resolve.js';
import { familyWorkloads } from '../../tune/workloads.js';
import { GPU_OPTIONS, GPU_OPTIONS_HELP, parse, UsageError } from '../args.js';
import { openGpu } from '../gpu.js';
import { recordingConfigs } from '../../model/config-source.js';
import { openModelFiles } from '../../model/open.js';
import { ModelRunner } from '../../model/runner.js';
import { openLocalModel } from '../../platform/node/model-location.js';

export const TUNE_HELP = `wgllm tune: tune kernels for this adapter, and manage the tune cache

Usage: wgllm tune --families [options] [GPU options]     tune the built-in kernel families
       wgllm tune --model PATH [options] [GPU options]   tune every kernel a model dispatches
       wgllm tune --list | --export FILE | --import FILE | --clear

Tuning (results are stored, and reused by every later run on this adapter):
  --model PATH          the kernels and shapes that model builds (a .gguf, llama2.c .bin or HF folder)
  --max-model-len N     with --model: the context length to tune for (default 4096)
  --max-batched-tokens N  with --model: tokens per step to tune prefill shapes for (default 512)
  --families            every kernel family on representative shapes (its conformance shapes)
  --tiny                with --families: one small shape per family (a quick check)
  --kernel ID           only kernels whose id contains ID (repeatable; also filters --list, --clear)
  --path f32|f16|all    activation paths to tune (default: all the adapter supports)
  --budget SECONDS      total tuning time over all kernels (default 120)
  --force               re-tune entries that the cache already has
  --timing M            auto (default: timestamp queries when available), timestamp or wall-clock
  --bench FILE          afterwards, re-time tuned vs default per kernel and write a JSON report
  --verbose             print every candidate as it is timed or rejected

Cache (one JSON file per adapter; entries apply only to the exact adapter, runtime, engine
version, kernel WGSL and tunable space they were measured with):
  --list                this adapter's entries as a table
  --export FILE         write this adapter's table as JSON (with --all: every adapter's)
  --import FILE         merge an exported table; entries go to the adapter they were tuned on
  --clear               delete this adapter's entries (--kernel: only those; --all: every adapter)
  --all                 with --export or --clear: every adapter in the cache
  --cache-dir DIR       cache root (default: $WGLLM_CACHE_DIR, else the user cache folder);
                        tables are in DIR/tune
${GPU_OPTIONS_HELP}

Exit status: 0 on success, 1 if a kernel could not be tuned (its default config stays in use).`;

const ACTIONS = ['families', 'model', 'list', 'export', 'import', 'clear'] as const;

function progressPrinter(verbose: boolean): (e: ResolveProgress | { type: 'bench'; label: string; index: number; total: number }) => void {
  const ms = (x: number) => (x < 0.1 ? `${(x * 1000).toPrecision(3)} us` : `${x.toPrecision(3)} ms`);
  return (e) => {
    switch (e.type) {
      case 'resolved':
        console.log(`${e.total} kernel problems: ${e.hits} in the cache, ${e.misses} to tune`);
        break;
      case 'tune-start':
        console.log(`[${e.index}/${e.total}] ${e.kernel} ${e.problem}: ${e.candidates} candidates, budget ${(e.budgetMs / 1000).toFixed(1)} s`);
        break;
      case 'candidate':
        if (verbose) console.log(`    ${JSON.stringify(e.config)}: ${e.rejected ? `REJECTED ${e.rejected}` : ms(e.ms!)}`);
        break;
      case 'tune-done': {
        const x = e.entry;
        const vs = x.defaultMs ? `, default ${ms(x.defaultMs)}: ${(x.defaultMs / x.ms).toFixed(2)}x` : '';
        console.log(
          `    -> ${JSON.stringify(x.config)} ${ms(x.ms)}${vs}; ${x.candidates.length} timed, ${x.rejected.length} rejected, ` +
            `${x.strategy}${x.complete ? '' : ' (budget ran out)'}, ${(x.elapsedMs / 1000).toFixed(1)} s`,
        );
        for (const r of x.rejected) console.log(`       rejected ${JSON.stringify(r.config)}: ${r.stage}: ${r.reason.slice(0, 160)}`);
        break;
      }
      case 'bench':
        if (verbose) console.log(`bench [${e.index}/${e.total}] ${e.label}`);
        break;
    }
  };
}

function storeFor(cacheDir: string | undefined): NodeTuneStore {
  return createNodeTuneStore(cacheDir ? { dir: join(cacheDir, 'tune') } : {});
}

export async function tuneCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    ...GPU_OPTIONS,
    families: { type: 'boolean' },
    model: { type: 'string' },
    'max-model-len': { type: 'string' },
    'max-batched-tokens': { type: 'string' },
    tiny: { type: 'boolean' },
    kernel: { type: 'string', multiple: true },
    path: { type: 'string' },
    budget: { type: 'string' },
    force: { type: 'boolean' },
    timing: { type: 'string' },
    bench: { type: 'string' },
    verbose: { type: 'boolean' },
    list: { type: 'boolean' },
    export: { type: 'string' },
    import: { type: 'string' },
    clear: { type: 'boolean' },
    all: { type: 'boolean' },
    'cache-dir': { type: 'string' },
  });
  if (values.help) {
    console.log(TUNE_HELP);
    return 0;
  }
  const actions = ACTIONS.filter((a) => values[a] !== undefined && values[a] !== false);
  if (actions.length !== 1) {
    throw new UsageError(actions.length ? `give one of --${actions.join(', --')}, not several` : 'nothing to do: give --families, --list, --export, --import or --clear');
  }
  const store = storeFor(values['cache-dir']);
  const filters = values.kernel ?? [];
  const kernelMatch = (id: string) => !filters.length || filters.some((f) => id.includes(f));

  if (values.import !== undefined) {
    const r = await importTables(store, await readFile(values.import, 'utf8'));
    for (const p of r.problems) console.log(`warning: ${p}`);
    const who = r.adapters.map((a) => `${a.vendor} ${a.device || a.architecture}`).join(', ');
    console.log(`imported ${r.entries} entries into ${store.location}${who ? ` (adapters: ${who})` : ''}`);
    return r.entries || !r.problems.length ? 0 : 1;
  }
  if (values.all && values.export !== undefined) {
    const { bundle, problems } = await exportAllTables(store);
    for (const p of problems) console.log(`warning: skipped ${p}`);
    await writeFile(values.export, `${JSON.stringify(bundle, null, 2)}\n`);
    console.log(`wrote ${bundle.tables.length} adapter tables (${bundle.tables.reduce((n, t) => n + t.entries.length, 0)} entries) to ${values.export}`);
    return 0;
  }
  if (values.all && values.clear) {
    const keys = await store.keys();
    for (const k of keys) await store.delete(k);
    console.log(`cleared ${keys.length} adapter tables in ${store.location}`);
    return 0;
  }

  const ctx = await openGpu(values);
  try {
    const cache = await TuneCache.open(store, ctx.info, { onWarning: (m) => console.log(`warning: ${m}`) });
    const where = `${store.location} [${cache.storeKey}]`;
    if (values.list) {
      const entries = cache.entries().filter((e) => kernelMatch(e.key.kernel));
      console.log(`${entries.length} entries for ${ctx.info.vendor} ${ctx.info.device || ctx.info.architecture} (${ctx.info.runtime}) in ${where}`);
      if (entries.length) console.log(formatEntries(entries, ctx.info, FAMILIES.map((f) => f.spec)));
      return 0;
    }
    if (values.export !== undefined) {
      const table = cache.exportTable();
      table.entries = table.entries.filter((e) => kernelMatch(e.key.kernel));
      await writeFile(values.export, tableText(table));
      console.log(`wrote ${table.entries.length} entries to ${values.export}`);
      return 0;
    }
    if (values.clear) {
      const n = await cache.clear(filters.length ? (e) => kernelMatch(e.key.kernel) : undefined);
      console.log(`removed ${n} entries from ${where}`);
      return 0;
    }
    const workload =
      values.model !== undefined
        ? (await modelWorkload(ctx, values.model, values)).filter((w) => kernelMatch(w.spec.id))
        : familyWorkloads(ctx.info, { acts: actsFor(values.path, ctx), filter: kernelMatch, sizes: values.tiny ? 'tiny' : 'representative' });
    return await tuneWorkload(ctx, cache, workload, values);
  } finally {
    ctx.destroy();
  }
}

/** Every (kernel, shape) the model's runner builds, found by building it once with recorded defaults. */
async function modelWorkload(
  ctx: GpuContext,
  path: string,
  values: { path?: string; 'max-model-len'?: string; 'max-batched-tokens'?: string },
): Promise<TuneWorkload[]> {
  const { model } = await openModelFiles(await openLocalModel(path));
  try {
    const maxModelLen = Math.min(Number(values['max-model-len'] ?? 4096), model.config.maxPositionEmbeddings);
    const maxNumTokens = Number(values['max-batched-tokens'] ?? 512);
    if (!(maxModelLen > 0 && maxNumTokens > 0)) throw new UsageError('--max-model-len and --max-batched-tokens must be positive');
    const rec = recordingConfigs(ctx.info);
    const acts = actsFor(values.path, ctx);
    for (const act of acts) {
      const runner = await ModelRunner.create(ctx, model, { act, limits: { maxNumTokens, maxNumSeqs: 16, maxModelLen }, kv: { numBlocks: 2 }, configs: rec });
      runner.dispose();
    }
    return rec.workload;
  } finally {
    await model.close();
  }
}

function actsFor(path: string | undefined, ctx: GpuContext): ActDType[] {
  const p = path ?? 'all';
  if (!['f32', 'f16', 'all'].includes(p)) throw new UsageError(`--path must be f32, f16 or all, not '${p}'`);
  if (p === 'f16' && !ctx.info.features.f16) throw new WgllmError('unsupported', "the f16 path needs 'shader-f16', which this adapter does not offer");
  return p === 'all' ? ['f32', 'f16'] : [p as ActDType];
}

/** Tunes a workload (misses only unless --force), prints progress, optionally writes the bench report. */
export async function tuneWorkload(
  ctx: GpuContext,
  cache: TuneCache,
  workload: TuneWorkload[],
  values: { budget?: string; force?: boolean; timing?: string; bench?: string; verbose?: boolean },
): Promise<number> {
  const budgetS = values.budget === undefined ? 120 : Number(values.budget);
  if (!(budgetS > 0)) throw new UsageError('--budget must be a positive number of seconds');
  const method = values.timing ?? 'auto';
  if (method !== 'auto' && method !== 'timestamp' && method !== 'wall-clock') throw new UsageError(`--timing must be auto, timestamp or wall-clock, not '${method}'`);
  if (method === 'timestamp' && !ctx.info.features.timestampQuery) throw new WgllmError('unsupported', "this adapter has no 'timestamp-query'; use --timing wall-clock");
  if (!workload.length) throw new UsageError('no kernel matches --kernel');
  const timing = { method } as const;
  const onProgress = progressPrinter(Boolean(values.verbose));
  console.log(`tuning ${workload.length} workloads on ${ctx.info.vendor} ${ctx.info.device || ctx.info.architecture}, budget ${budgetS} s, cache ${cache.store.location}`);
  if (values.bench !== undefined) {
    const report = await benchTuning(ctx, workload, {
      cache,
      budgetMs: budgetS * 1000,
      force: Boolean(values.force),
      timing,
      onProgress,
      onWarning: (m) => console.log(`warning: ${m}`),
    });
    console.log(`\n${formatBenchReport(report)}`);
    await writeFile(values.bench, `${JSON.stringify(report, null, 2)}\n`);
    console.log(`wrote ${values.bench}`);
    return 0;
  }
  const warnings: string[] = [];
  const r = await resolveKernelConfigs(ctx, workload, {
    tune: 'auto',
    cache,
    budgetMs: budgetS * 1000,
    force: Boolean(values.force),
    search: { timing },
    onProgress,
    onWarning: (m) => {
      warnings.push(m);
      console.log(`warning: ${m}`);
    },
  });
  const s = r.stats;
  console.log(`\n${s.tuned} tuned, ${s.hits} already in the cache, ${s.misses - s.tuned} left at their default in ${(s.tuneMs / 1000).toFixed(1)} s`);
  const skipped = r.list().filter((c) => c.from === 'default' && c.note);
  const outOfTime = skipped.filter((c) => c.note === 'tuning budget exhausted');
  if (outOfTime.length) console.log(`  ${outOfTime.length} not tuned: the budget ran out (raise --budget, or run again: tuned entries are kept)`);
  for (const c of skipped) if (!outOfTime.includes(c)) console.log(`  ${c.kernel} ${c.problem}: ${c.note}`);
  return warnings.length ? 1 : 0;
}
