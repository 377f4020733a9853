import { roundAs, type ActDType } from '../core/dtype.js';
import { Rng } from '../core/random.js';
import { PENALTY_PROMPT_BIT, sampleRowRef } from '../core/reference/sampling.js';
import { resolveSampling, type SamplingParams } from '../core/sampling-params.js';
import type { SamplingRow } from './sampling-layout.js';

/**
 * Test data for the sampling kernel: random rows of every kind (greedy, temperature, top-k,
 * top-p, min-p, penalties, logit bias, logprobs) whose logits are redrawn until the CPU
 * reference says the row is far from a near-tie, so GPU and CPU must agree exactly on tokens.
 */

export type RowKind = 'greedy' | 'temperature' | 'topK' | 'topP' | 'minP' | 'combined' | 'penalties' | 'bias';
export const ROW_KINDS: readonly RowKind[] = ['greedy', 'temperature', 'topK', 'topP', 'minP', 'combined', 'penalties', 'bias'];

/** Near-tie limits: top-p mass (fraction of the kept mass), Gumbel race and greedy gaps (logit units). */
export const MARGINS = { topP: 1e-4, gumbel: 1e-3, greedy: 1e-5 };

export function rowParams(kind: RowKind, rng: Rng, vocabSize: number): SamplingParams {
  const t = rng.uniform(0.5, 1.5);
  switch (kind) {
    case 'greedy':
      return { temperature: 0 };
    case 'temperature':
      return { temperature: t };
    case 'topK':
      return { temperature: t, topK: rng.pick([1, 2, 5, 50, Math.max(1, vocabSize >> 3)]) };
    case 'topP':
      return { temperature: t, topP: rng.pick([0.1, 0.5, 0.8, 0.95]) };
    case 'minP':
      return { temperature: t, minP: rng.pick([0.01, 0.1, 0.5]) };
    case 'combined':
      return { temperature: t, topK: rng.pick([3, 40, 200]), topP: rng.pick([0.7, 0.9]), minP: rng.pick([0, 0.02]) };
    case 'penalties':
      return {
        temperature: rng.pick([0, t]),
        repetitionPenalty: rng.pick([1, 1.3, 0.8]),
        presencePenalty: rng.uniform(-1, 1.5),
        frequencyPenalty: rng.uniform(-0.5, 1),
        topK: rng.pick([0, 20]),
      };
    case 'bias': {
      const logitBias: Record<number, number> = {};
      for (let j = 0; j < rng.int(1, 8); j++) logitBias[rng.int(0, vocabSize - 1)] = rng.pick([-100, -5, 3, 10, 100]);
      return { temperature: rng.pick([0, t]), logitBias, topP: rng.pick([1, 0.9]) };
    }
  }
}

/**
 * Logits of one row: normal values at a random scale, sometimes with a boosted head of tokens.
 * `peak` >= 1 sharpens the distribution: a flat 152k-token softmax puts ~1e-5 of mass on each
 * token at a top-p edge, closer to p than f32 sums can resolve, so redraws get sharper.
 */
export function rowLogits(rng: Rng, act: ActDType, vocabSize: number, peak = 1): Float32Array {
  const round = roundAs(act);
  const scale = rng.pick([1, 2, 4]) * peak;
  const head = rng.next() < 0.5 ? rng.int(1, Math.min(64, vocabSize)) : 0;
  const x = new Float32Array(vocabSize);
  for (let i = 0; i < vocabSize; i++) x[i] = rng.normal() * scale;
  for (let j = 0; j < head; j++) x[rng.int(0, vocabSize - 1)]! += rng.uniform(3, 8);
  for (let i = 0; i < vocabSize; i++) x[i] = round(x[i]!);
  return x;
}

/** Penalty bins of one slot: a short prompt and output with repeats. */
export function slotCounts(rng: Rng, vocabSize: number, into: Uint32Array): void {
  for (let j = 0; j < rng.int(1, 60); j++) into[rng.int(0, vocabSize - 1)]! |= PENALTY_PROMPT_BIT;
  const popular = Array.from({ length: 8 }, () => rng.int(0, vocabSize - 1));
  for (let j = 0; j < rng.int(0, 40); j++) into[rng.next() < 0.5 ? rng.pick(popular) : rng.int(0, vocabSize - 1)]! += 1;
}

export interface SamplingProblem {
  vocabSize: number;
  /** [numRows * vocabSize] raw logits (act-representable) */
  logits: Float32Array;
  rows: SamplingRow[];
  /** [maxNumSeqs * vocabSize] penalty bins before the step */
  counts: Uint32Array;
}

export interface ProblemOptions {
  act: ActDType;
  numRows: number;
  vocabSize: number;
  maxNumSeqs: number;
  seed: number;
  /** kinds to draw from (default: all) */
  kinds?: readonly RowKind[];
  /** probability that a row asks for logprobs (default 0.5) */
  logprobsRate?: number;
}

/** A whole step's worth of rows on distinct random slots, each redrawn until it is tie-free. */
export function makeSamplingProblem(o: ProblemOptions): SamplingProblem {
  const rng = new Rng(o.seed);
  const V = o.vocabSize;
  const logits = new Float32Array(o.numRows * V);
  const counts = new Uint32Array(o.maxNumSeqs * V);
  const slots = rng.shuffle(Array.from({ length: o.maxNumSeqs }, (_, i) => i)).slice(0, o.numRows);
  const rows: SamplingRow[] = [];
  for (let r = 0; r < o.numRows; r++) {
    const slot = slots[r]!;
    const kind = rng.pick(o.kinds ?? ROW_KINDS);
    const p = rowParams(kind, rng, V);
    if (rng.next() < (o.logprobsRate ?? 0.5)) p.logprobs = rng.pick([0, 1, 5, 20]);
    const params = resolveSampling(p, V, rng.int(0, 2 ** 31));
    const row: SamplingRow = { slot, params, step: rng.int(0, 5000), discard: rng.next() < 0.1 };
    const bins = counts.subarray(slot * V, (slot + 1) * V);
    if (params.usesPenalties) slotCounts(rng, V, bins);
    let x = rowLogits(rng, o.act, V);
    for (let attempt = 0; ; attempt++) {
      const m = sampleRowRef({ logits: x, params, step: row.step, counts: bins }).margins;
      if (m.topP >= MARGINS.topP && m.gumbel >= MARGINS.gumbel && m.greedy >= MARGINS.greedy) break;
      if (attempt === 30) throw new Error(`no tie-free logits for a ${kind} row after 30 draws (seed ${o.seed})`);
      // A fresh draw (new values), or a new RNG counter when only the race was close.
      if (m.topP >= MARGINS.topP && m.greedy >= MARGINS.greedy) row.step++;
      else x = rowLogits(rng, o.act, V, 1 + Math.floor(attempt / 3));
    }
    logits.set(x, r * V);
    rows.push(row);
  }
  return { vocabSize: V, logits, rows, counts };
}
