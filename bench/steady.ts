/**
 * Steady-state GPU timing for the benches. An NVIDIA GPU's clocks follow its load: timed in
 * short bursts (tens of launches, a few ms at most) with idle gaps between them (compiles,
 * readbacks), a kernel ran far below its sustained speed and drifted from case to case. On the
 * H200, bench/attention-probe.ts timed the same decode kernel at 2341 GB/s first and at 831 GB/s
 * ten configs later that way, and at 2363 +- 0.5% in every round once warmed by 1.5 s of
 * sustained work and timed in ~5 ms bursts. A serving engine keeps its GPU busy, so the benches
 * report this sustained speed: each case is warmed by its own work, then timed over bursts of
 * about `burstMs` each (the median of `samples`).
 */
import type { GpuTimer } from '../src/gpu/timer.js';

export interface SteadyOptions {
  /** a smoke run (SwiftShader): two small bursts, no warm-up */
  quick?: boolean;
  /** sustained work before the samples (default 300 ms) */
  warmMs?: number;
  /** GPU time of one timed burst (default 5 ms) */
  burstMs?: number;
  /** bursts timed; the median is the result (default 5) */
  samples?: number;
  /** fewest launches per burst, e.g. enough to rotate over every weight copy (default 1) */
  minIters?: number;
}

export interface SteadyTime {
  /** ms per launch, the median burst */
  ms: number;
  /** ms per launch of every burst */
  runs: number[];
  /** launches per burst */
  iters: number;
}

export async function steadyTime(timer: GpuTimer, record: (pass: GPUComputePassEncoder) => void, o: SteadyOptions = {}): Promise<SteadyTime> {
  const minIters = Math.max(1, o.minIters ?? 1);
  if (o.quick) {
    const runs = [await timer.time(record, minIters), await timer.time(record, minIters)];
    return { ms: Math.min(...runs), runs, iters: minIters };
  }
  await timer.time(record, minIters); // first use: pipeline setup
  const one = await timer.time(record, minIters);
  const iters = Math.max(minIters, Math.min(20000, Math.ceil(((o.burstMs ?? 5) / one) * minIters)));
  const until = performance.now() + (o.warmMs ?? 300);
  do await timer.time(record, iters);
  while (performance.now() < until);
  const runs: number[] = [];
  for (let i = 0; i < (o.samples ?? 5); i++) runs.push(await timer.time(record, iters));
  const sorted = [...runs].sort((a, b) => a - b);
  return { ms: sorted[sorted.length >> 1]!, runs, iters };
}
