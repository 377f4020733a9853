/**
 * Statistics shared by the end-to-end harnesses (bench/engine.ts for wgllm, bench/llama-cpp.ts for
 * llama.cpp): one definition of each figure, so that the two sides of RESULTS.md are computed alike.
 */

/** Arrival times (performance.now()) of one sequence's tokens. */
export interface TokenTrace {
  tokenTimes: number[];
}

export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[i]!;
}

export function median(xs: readonly number[]): number {
  return percentile(xs, 50);
}

export const round = (x: number, d = 3) => (Number.isFinite(x) ? Number(x.toFixed(d)) : null);

export const pcts = (xs: number[]) => ({ p50: round(percentile(xs, 50)), p90: round(percentile(xs, 90)), p99: round(percentile(xs, 99)), mean: round(xs.reduce((a, b) => a + b, 0) / xs.length) });

/** Inter-token latencies of all sequences. */
export const itls = (traces: readonly TokenTrace[]) => traces.flatMap((t) => t.tokenTimes.slice(1).map((x, i) => x - t.tokenTimes[i]!));

/**
 * Decode steps left out at the start of every decode measurement, on both sides alike. An idle
 * NVIDIA GPU sits at its lowest clocks and takes ~150 ms of load to reach full speed (H200,
 * nvidia-smi sampled during bench/engine.ts: 345 -> 1980 MHz SM; batch-1 steps ran at ~9 ms
 * until then and at 3.1 ms after): a 64-token run measured from its first step reported up to
 * 1.5x the steady inter-token latency, by an amount that changed from run to run.
 */
export const SETTLE_STEPS = 16;

/**
 * The decode phase of `batch` sequences: tokens that arrived after `tStart` (the moment every
 * sequence had its first token) and after the first `settleSteps` steps of every sequence, up to
 * the last one, as aggregate and per-sequence tokens/s; `fromStart` counts from `tStart` itself.
 */
export function decodeSummary(traces: readonly TokenTrace[], tStart: number, batch: number, settleSteps = SETTLE_STEPS) {
  const tEnd = Math.max(...traces.map((t) => t.tokenTimes.at(-1) ?? -Infinity));
  const rate = (from: number) => {
    const tokens = traces.reduce((a, t) => a + t.tokenTimes.filter((x) => x > from).length, 0);
    return { tokens, ms: tEnd - from, perSec: tokens / ((tEnd - from) / 1e3) };
  };
  // Every sequence's token number settleSteps + 1 (its first is the prefill's), if it has one.
  const settled = Math.max(tStart, ...traces.map((t) => t.tokenTimes[Math.min(settleSteps, t.tokenTimes.length - 1)] ?? -Infinity));
  const steady = rate(settled);
  const all = rate(tStart);
  return {
    decodeTokens: steady.tokens,
    decodeMs: round(steady.ms),
    settleSteps,
    tokensPerSec: round(steady.perSec, 2),
    perSeqTokensPerSec: round(steady.perSec / batch, 2),
    itlMs: pcts(itls(traces.map((t) => ({ tokenTimes: t.tokenTimes.filter((x) => x >= settled) })))),
    fromStart: { decodeTokens: all.tokens, tokensPerSec: round(all.perSec, 2), itlMs: pcts(itls(traces)) },
  };
}
