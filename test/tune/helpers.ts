// Shared by the Node and the browser tests: no Node built-ins here (see temp-dir.ts).
import type { DeviceInfo } from '../../src/gpu/device-info.js';
import type { TuneEntry } from '../../src/tune/entry.js';
import { TUNE_SCHEMA, type AdapterIdentity, type TuneKey } from '../../src/tune/key.js';
import { WGLLM_VERSION } from '../../src/version.js';

export const FAKE_ADAPTER: AdapterIdentity = { vendor: 'acme', architecture: 'rocket', device: 'rx-9', description: 'Acme RX 9 (test)' };

/** Just the DeviceInfo fields the cache looks at (no GPU needed). */
export function fakeDevice(adapter: AdapterIdentity = FAKE_ADAPTER, runtime = 'test-runtime/1'): DeviceInfo {
  return { ...adapter, runtime } as DeviceInfo;
}

export function fakeKey(kernel: string, problem = 'f32:n1024', adapter: AdapterIdentity = FAKE_ADAPTER, extra: Partial<TuneKey> = {}): TuneKey {
  return { schema: TUNE_SCHEMA, engine: WGLLM_VERSION, adapter, runtime: 'test-runtime/1', kernel, source: 'src0', space: 'space0', problem, ...extra };
}

export function fakeEntry(key: TuneKey, config: unknown = { wg: 64 }, ms = 0.5, tunedAt = new Date().toISOString()): TuneEntry {
  return {
    key,
    config,
    ms,
    defaultConfig: { wg: 256 },
    defaultMs: 1,
    shape: { n: 1000 },
    timing: 'timestamp',
    strategy: 'exhaustive',
    complete: true,
    budgetMs: 1000,
    elapsedMs: 10,
    tunedAt,
    candidates: [{ config, ms, samples: 5, iterations: 10 }],
    rejected: [],
  };
}
