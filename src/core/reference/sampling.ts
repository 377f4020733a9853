import { NEG_BIG, type ResolvedSampling } from '../sampling-params.js';

/**
 * CPU truth for GPU sampling (shaders/sampling.wgsl): the same order of operations, the same
 * f32 roundings for the processed logits, and the same counter-based RNG, so a seeded sample is
 * the same token on both. Where the GPU sums floats in a different order (softmax mass for
 * top-p, log-sum-exp for logprobs) or evaluates exp/log with a few ulps of error, the results
 * agree except at near-ties; `margins` in the result says how far this row is from one, and the
 * tests draw data whose margins are comfortably large.
 *
 * Tolerance rule for logprobs: |gpu - ref| <= 1e-4 absolute (f32 log-sum-exp over up to 152k
 * terms; the raw logits themselves are identical inputs).
 */

const f32 = Math.fround;

/** Penalty-state bin layout, per slot and token: bit 31 = seen in the prompt, bits 0..30 = output count. */
export const PENALTY_PROMPT_BIT = 0x80000000;
export const PENALTY_COUNT_MASK = 0x7fffffff;

// ---- RNG: xxHash32 of the 16-byte little-endian tuple (seedLo, seedHi, step, token), seed 0 ----

const P1 = 0x9e3779b1;
const P2 = 0x85ebca77;
const P3 = 0xc2b2ae3d;

function rotl(x: number, r: number): number {
  return ((x << r) | (x >>> (32 - r))) >>> 0;
}
function xxRound(acc: number, input: number): number {
  return Math.imul(rotl((acc + Math.imul(input, P2)) >>> 0, 13), P1) >>> 0;
}

/** XXH32 of four u32 words (16 bytes, little-endian), seed 0. */
export function xxh32x4(a: number, b: number, c: number, d: number): number {
  const v1 = xxRound((P1 + P2) >>> 0, a);
  const v2 = xxRound(P2, b);
  const v3 = xxRound(0, c);
  const v4 = xxRound((0 - P1) >>> 0, d);
  let h = (rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18) + 16) >>> 0;
  h = Math.imul(h ^ (h >>> 15), P2) >>> 0;
  h = Math.imul(h ^ (h >>> 13), P3) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * A uniform in (0, 1) from 32 random bits, built exactly as the kernel does (every step exact or
 * one correctly rounded f32 add): fine resolution near 0, where the exponential race is decided.
 */
export function samplingUniform(h: number): number {
  const v = f32(f32((h >>> 8) * 2 ** -24 + (h & 0xff) * 2 ** -32) + 2 ** -33);
  return Math.min(v, f32(1 - 2 ** -24));
}

/**
 * ln(E) for the exponential variate E = -ln(1 - U) of (seed, step, token). The sample is
 * argmax over kept tokens of (tempered logit - ln E): the Gumbel-max trick, i.e. an exact draw
 * from the softmax of the kept logits.
 */
export function lnExponential(seedLo: number, seedHi: number, step: number, token: number): number {
  const u = samplingUniform(xxh32x4(seedLo, seedHi, step >>> 0, token));
  return Math.log(-Math.log1p(-u));
}

// ---- the sampling pipeline ----

export interface SampleRowInput {
  /** [vocabSize] raw logits of this row (values as stored: f32, or f16 values) */
  logits: Float32Array;
  params: ResolvedSampling;
  /** tokens the request has generated so far: the RNG counter */
  step: number;
  /** [vocabSize] penalty bins (PENALTY_PROMPT_BIT | output count); needed when params.usesPenalties */
  counts?: Uint32Array;
}

export interface SampleRowResult {
  token: number;
  /** number of tokens kept by min-p / top-k / top-p (vocabSize when none is active, 1 when greedy) */
  kept: number;
  /** raw log-softmax of the chosen token (when params.logprobs >= 0) */
  logprob: number;
  /** 1 + number of other tokens whose raw logit is >= the chosen one's (vLLM's rank) */
  rank: number;
  /** top params.logprobs tokens by raw logit (ties: lowest id first) and their logprobs */
  topIds: number[];
  topLogprobs: number[];
  /** distances to a near-tie (Infinity where not applicable); see the file comment */
  margins: { greedy: number; topP: number; gumbel: number };
}

/** Bias and penalties in f32, in vLLM's order; exactly the values the kernel writes to `work`. */
export function processLogits(logits: Float32Array, p: ResolvedSampling, counts?: Uint32Array): Float32Array {
  const V = logits.length;
  const y = new Float32Array(V);
  for (let i = 0; i < V; i++) y[i] = Math.max(logits[i]!, NEG_BIG);
  for (let j = 0; j < p.logitBias.tokens.length; j++) {
    const t = p.logitBias.tokens[j]!;
    y[t] = f32(y[t]! + p.logitBias.biases[j]!);
  }
  if (p.usesPenalties) {
    if (!counts) throw new Error('processLogits: counts are required when penalties are used');
    for (let i = 0; i < V; i++) {
      const c = counts[i]!;
      if (c === 0) continue;
      const n = c & PENALTY_COUNT_MASK;
      let v = y[i]!;
      v = f32(v * (v > 0 ? p.invRepetitionPenalty : p.repetitionPenalty));
      v = f32(v - f32(p.frequencyPenalty * n));
      v = f32(v - f32(p.presencePenalty * (n > 0 ? 1 : 0)));
      y[i] = v;
    }
  }
  return y;
}

/** Indices sorted by value descending, ties by id ascending. */
function sortDesc(values: Float32Array, ids: number[]): number[] {
  return ids.sort((a, b) => values[b]! - values[a]! || a - b);
}

/** The set kept by min-p, top-k and top-p (vLLM semantics; ties at each edge are kept). */
function keptSet(v: Float32Array, vmax: number, p: ResolvedSampling): { ids: number[]; topPMargin: number } {
  const V = v.length;
  let ids: number[] = [];
  for (let i = 0; i < V; i++) if (f32(v[i]! - vmax) >= p.lnMinP) ids.push(i);
  if (p.topK === 0 && p.topP >= 1) return { ids, topPMargin: Infinity };
  ids = sortDesc(v, ids);
  if (p.topK > 0 && ids.length > p.topK) {
    const kth = v[ids[p.topK - 1]!]!;
    let n = p.topK;
    while (n < ids.length && v[ids[n]!]! >= kth) n++;
    ids = ids.slice(0, n);
  }
  let margin = Infinity;
  if (p.topP < 1) {
    const w = ids.map((i) => Math.exp(f32(v[i]! - vmax)));
    const z = w.reduce((a, b) => a + b, 0);
    const target = p.topP * z;
    // Keep a token iff the mass strictly above its value is < topP (tie groups decided together).
    let above = 0;
    let n = 0;
    while (n < ids.length) {
      if (above >= target) break;
      margin = Math.min(margin, (target - above) / z);
      const val = v[ids[n]!]!;
      while (n < ids.length && v[ids[n]!]! === val) above += w[n++]!;
    }
    if (n < ids.length) margin = Math.min(margin, (above - target) / z);
    ids = ids.slice(0, n);
  }
  return { ids, topPMargin: margin };
}

export function sampleRowRef(input: SampleRowInput): SampleRowResult {
  const { logits, params: p } = input;
  const V = logits.length;
  const y = processLogits(logits, p, input.counts);
  let best = 0;
  for (let i = 1; i < V; i++) if (y[i]! > y[best]!) best = i;
  let second = -Infinity;
  for (let i = 0; i < V; i++) if (y[i]! < y[best]! && y[i]! > second) second = y[i]!;
  const margins = { greedy: y[best]! - second, topP: Infinity, gumbel: Infinity };
  let token = best;
  let kept = 1;
  if (!p.greedy) {
    const v = new Float32Array(V);
    for (let i = 0; i < V; i++) v[i] = f32(y[i]! * p.invTemperature);
    const vmax = f32(y[best]! * p.invTemperature);
    const set = keptSet(v, vmax, p);
    margins.topP = set.topPMargin;
    kept = set.ids.length;
    let r1 = -Infinity;
    let r2 = -Infinity;
    for (const i of set.ids) {
      const r = v[i]! - lnExponential(p.seedLo, p.seedHi, input.step, i);
      if (r > r1 || (r === r1 && i < token)) {
        r2 = r1;
        r1 = r;
        token = i;
      } else if (r > r2) r2 = r;
    }
    margins.gumbel = r1 - r2;
  }
  const out: SampleRowResult = { token, kept, logprob: 0, rank: 0, topIds: [], topLogprobs: [], margins };
  if (p.logprobs >= 0) Object.assign(out, rawLogprobs(logits, token, p.logprobs));
  return out;
}

/** Raw log-softmax of the chosen token, its rank, and the top n (value desc, id asc). */
export function rawLogprobs(logits: Float32Array, token: number, n: number): Pick<SampleRowResult, 'logprob' | 'rank' | 'topIds' | 'topLogprobs'> {
  const V = logits.length;
  const x = (i: number) => Math.max(logits[i]!, NEG_BIG);
  let m = -Infinity;
  for (let i = 0; i < V; i++) m = Math.max(m, x(i));
  let s = 0;
  for (let i = 0; i < V; i++) s += Math.exp(x(i) - m);
  const lse = m + Math.log(s);
  let rank = 0;
  for (let i = 0; i < V; i++) if (x(i) >= x(token)) rank++;
  const topIds: number[] = [];
  if (n > 0) {
    // Partial selection: keep the best n seen so far (n <= 20).
    for (let i = 0; i < V; i++) {
      const xi = x(i);
      if (topIds.length === n && xi <= x(topIds[n - 1]!)) continue;
      let j = topIds.length < n ? topIds.length : n - 1;
      topIds[j] = i;
      while (j > 0 && x(topIds[j - 1]!) < xi) {
        topIds[j] = topIds[j - 1]!;
        topIds[--j] = i;
      }
    }
  }
  return { logprob: x(token) - lse, rank, topIds, topLogprobs: topIds.map((i) => x(i) - lse) };
}
