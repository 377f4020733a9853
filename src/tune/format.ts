import type { DeviceInfo } from '../gpu/device-info.js';
import type { AnyKernelSpec } from '../kernels/spec.js';
import { WGLLM_VERSION } from '../version.js';
import type { TuneEntry } from './entry.js';
import { sourceHash, TUNE_SCHEMA } from './key.js';

const pad = (s: string, n: number) => (s.length >= n ? `${s} ` : s + ' '.repeat(n - s.length));
const lpad = (s: string, n: number) => (s.length >= n ? `${s} ` : ' '.repeat(n - s.length) + s);

/**
 * Why an entry would not be used here any more (empty string: it is current). Only what can
 * be checked without a shape: schema, engine version, runtime, and the kernel's WGSL when the
 * spec is known. (A changed tunable space shows up as a miss at resolution.)
 */
export function staleReason(e: TuneEntry, dev: Pick<DeviceInfo, 'runtime'>, specs: readonly AnyKernelSpec[] = []): string {
  if (e.key.schema !== TUNE_SCHEMA) return `schema ${e.key.schema}`;
  if (e.key.engine !== WGLLM_VERSION) return `engine ${e.key.engine}`;
  if (e.key.runtime !== dev.runtime) return `runtime ${e.key.runtime}`;
  const spec = specs.find((s) => s.id === e.key.kernel);
  if (spec && sourceHash(spec) !== e.key.source) return 'WGSL changed';
  return '';
}

/** A readable table of entries: one line each, timings in ms, newest layout first by kernel. */
export function formatEntries(entries: readonly TuneEntry[], dev: Pick<DeviceInfo, 'runtime'>, specs: readonly AnyKernelSpec[] = []): string {
  const rows = [...entries].sort((a, b) => a.key.kernel.localeCompare(b.key.kernel) || a.key.problem.localeCompare(b.key.problem));
  const lines = [
    `${pad('kernel', 14)}${pad('problem', 30)}${lpad('ms', 11)}${lpad('default ms', 12)}${lpad('speedup', 9)}${lpad('timed', 7)}${lpad('rej', 5)}  ${pad('status', 14)}config`,
  ];
  for (const e of rows) {
    const stale = staleReason(e, dev, specs);
    const speedup = e.defaultMs ? (e.defaultMs / e.ms).toFixed(2) : '-';
    lines.push(
      `${pad(e.key.kernel, 14)}${pad(e.key.problem, 30)}${lpad(e.ms.toPrecision(4), 11)}${lpad(e.defaultMs?.toPrecision(4) ?? '-', 12)}` +
        `${lpad(speedup, 9)}${lpad(String(e.candidates.length), 7)}${lpad(String(e.rejected.length), 5)}  ` +
        `${pad(stale ? `stale: ${stale}` : e.complete ? 'ok' : 'ok (partial)', 14)}${JSON.stringify(e.config)}`,
    );
  }
  return lines.join('\n');
}
