export { TUNE_SCHEMA, tuneKey, keyString, adapterIdentity, adapterStoreKey, configKey, type TuneKey, type AdapterIdentity } from './key.js';
export type { TuneEntry, TuneTable, TuneBundle, TimedCandidate, RejectedCandidate, RejectStage } from './entry.js';
export { parseTable, parseExport, tableText } from './entry.js';
export { MemoryTuneStore, type TuneStore } from './store.js';
export { TuneCache, exportAllTables, importTables, type TuneCacheOptions } from './cache.js';
export { KernelBench, type TimingOptions, type Measurement } from './measure.js';
export { tuneKernel, tuningRunCount, type TuneOptions, type TuneProgress } from './search.js';
export {
  resolveKernelConfigs,
  KernelConfigs,
  type TuneWorkload,
  type ResolveOptions,
  type ResolveProgress,
  type ResolvedConfig,
  type ResolveStats,
} from './resolve.js';
export { familyWorkloads, type FamilyWorkloadOptions } from './workloads.js';
export { benchTuning, formatBenchReport, type TuneBenchReport, type TuneBenchRow, type TuneBenchOptions } from './bench.js';
export { formatEntries, staleReason } from './format.js';
export { tunedConfigs, type TunedConfigOptions, type TunedConfigStats } from './lazy-configs.js';
