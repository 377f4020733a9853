import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { GpuContext } from '../src/gpu/context.js';
import { copyBandwidth, type CopyBandwidth } from './engine-steps.js';

/**
 * The PyTorch baseline of the kernel benchmarks (bench/matmul.ts, bench/attention.ts):
 * bench/torch-baseline.py run as a child process of the bench, so both sides share the run (same
 * machine, driver and clocks), and the GPU warm-up before the first timed case.
 */

export interface TorchResult {
  id: string;
  ms?: number;
  tflops?: number;
  gbps?: number;
  copyGBps?: number;
  readWriteGBps?: number;
  error?: string;
  [k: string]: unknown;
}
export interface TorchReport {
  python?: string;
  torch?: string;
  device?: string;
  error?: string;
  results?: TorchResult[];
  [k: string]: unknown;
}

/** `--torch auto|off|<python>`: the interpreter to use, or why there is none. */
export function torchPython(opt: string): { python?: string; reason?: string } {
  if (opt === 'off') return { reason: '--torch off' };
  if (opt !== 'auto') return { python: opt };
  const probe = spawnSync('python3', ['-c', 'import torch'], { stdio: 'ignore', timeout: 120_000 });
  return probe.status === 0 ? { python: 'python3' } : { reason: 'python3 cannot import torch' };
}

export function runTorch(python: string, cases: object[]): TorchReport {
  // Bundled as bench/dist/*.js, so the script is one folder up; run from the project root otherwise.
  const here = dirname(fileURLToPath(import.meta.url));
  const script = [resolve(here, '..', 'torch-baseline.py'), resolve('bench', 'torch-baseline.py')].find((p) => existsSync(p));
  if (!script) return { python, error: 'bench/torch-baseline.py not found' };
  console.log(`torch: ${cases.length} cases through ${python} ${script}`);
  const r = spawnSync(python, [script, '-'], {
    input: JSON.stringify({ cases, repeats: 5, minMs: 3 }),
    stdio: ['pipe', 'pipe', 'inherit'], // its progress lines go to our log
    maxBuffer: 64 << 20,
    timeout: 600_000,
  });
  const last = (r.stdout?.toString() ?? '').trim().split('\n').pop() ?? '';
  try {
    return { python, ...(JSON.parse(last) as TorchReport), ...(r.status ? { exitCode: r.status } : {}) };
  } catch {
    return { python, error: `no JSON from ${script} (exit ${r.status}${r.error ? `, ${r.error.message}` : ''})` };
  }
}

export const r4 = (x: number) => Number(x.toFixed(4));

/**
 * Keeps the GPU busy for about a second (one buffer pair, 1200 copies of 1 GiB) before the first
 * timed case: on the H200 the first cases of a run came out up to several times slower than the
 * same shapes later in the run, and a warm-up that reallocated 2 GiB per round did not help.
 * Returns that copy's figure as a diagnostic only.
 */
export async function warmUp(ctx: GpuContext, quick: boolean): Promise<CopyBandwidth | undefined> {
  return quick ? undefined : copyBandwidth(ctx, 2 ** 30, 300, 3);
}

/** torch's device copy, as the benches report it. */
export interface TorchCopy {
  bytes: unknown;
  ms: number;
  copyGBps: number;
  readWriteGBps: number;
  method: unknown;
  variant: unknown;
  tried: unknown;
}

/**
 * The baselines of one bench run, after its timings: our WGSL copy (measured after the timings,
 * next to torch's run: on the H200, measured before them it came out at half the rate torch
 * gets), then torch on `cases` plus its own copy. Returns torch's results by case id, both copies,
 * and the report's `copy` and `torch` blocks.
 */
export async function sameRunBaselines(
  ctx: GpuContext,
  o: { quick: boolean; copyMiB: number; torch: string; cases: object[]; warm: CopyBandwidth | undefined; convention: string },
) {
  const wgslCopy = o.copyMiB > 0 ? await copyBandwidth(ctx, o.copyMiB * 2 ** 20, o.quick ? 2 : 20) : undefined;
  if (wgslCopy) console.log(`wgsl copy ${o.copyMiB} MiB: ${wgslCopy.readWriteGBps.toFixed(0)} GB/s read+write`);
  const tp = torchPython(o.torch);
  let torch: TorchReport | undefined;
  if (tp.python) {
    torch = runTorch(tp.python, [{ id: 'copy', op: 'copy', bytes: 2 ** 30 }, ...o.cases]);
    if (torch.error) console.log(`torch: ${torch.error}`);
  }
  const byId = new Map((torch?.results ?? []).map((t) => [t.id, t]));
  const tc = byId.get('copy');
  const torchCopy: TorchCopy | undefined =
    tc && tc.ms !== undefined ? { bytes: tc.bytes, ms: tc.ms, copyGBps: tc.copyGBps!, readWriteGBps: tc.readWriteGBps!, method: tc.method, variant: tc.variant, tried: tc.tried } : undefined;
  const { results: _drop, ...torchInfo } = torch ?? {};
  return {
    byId,
    torchCopy,
    wgslCopy,
    /** the copy the targets divide by: torch's, or without torch our own (the metric says which) */
    copyRef: torchCopy?.readWriteGBps ?? wgslCopy?.readWriteGBps,
    copyReport: {
      convention: o.convention,
      torch: torchCopy ?? null,
      wgsl: wgslCopy ?? null,
      wgslVsTorch: torchCopy && wgslCopy ? r4(wgslCopy.readWriteGBps / torchCopy.readWriteGBps) : null,
      wgslWarmUp: o.warm ?? null,
    },
    torchReport: torch ? torchInfo : { skipped: tp.reason },
    /** a row's GB/s over each copy's read + write GB/s (what is missing is left out) */
    copyRatios(gbps: number | undefined): { vsCopy?: number; vsWgslCopy?: number } {
      if (gbps === undefined) return {};
      return { ...(torchCopy ? { vsCopy: r4(gbps / torchCopy.readWriteGBps) } : {}), ...(wgslCopy ? { vsWgslCopy: r4(gbps / wgslCopy.readWriteGBps) } : {}) };
    },
  };
}
