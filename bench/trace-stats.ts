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
 * The decode phase of `batch` sequences: tokens that arrived after `tStart` (the moment every
 * sequence had its first token) up to the last one, as aggregate and per-sequence tokens/s.
 */
export function decodeSummary(traces: readonly TokenTrace[], tStart: number, batch: number) {
  const tEnd = Math.max(...traces.map((t) => t.tokenTimes.at(-1) ?? -Infinity));
  const tokens = traces.reduce((a, t) => a + t.tokenTimes.filter((x) => x > tStart).length, 0);
  const agg = tokens / ((tEnd - tStart) / 1e3);
  return {
    decodeTokens: tokens,
    decodeMs: round(tEnd - tStart),
    tokensPerSec: round(agg, 2),
    perSeqTokensPerSec: round(agg / batch, 2),
    itlMs: pcts(itls(traces)),
  };
}
