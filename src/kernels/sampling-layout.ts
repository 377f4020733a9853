import { MAX_TOP_LOGPROBS, type ResolvedSampling } from '../core/sampling-params.js';
import { WgllmError } from '../core/errors.js';

/**
 * The byte layouts shared by shaders/sampling*.wgsl, the Sampler and the tests. Change them
 * together: the WGSL side names the same word offsets in its header.
 */

/** words per row in `meta` (shaders/sampling.wgsl: Row) */
export const ROW_WORDS = 16;
/** words per logit-bias entry in `meta`: token, f32 bits */
export const BIAS_WORDS = 2;
/** `lp_values` / `lp_ids` row stride: [chosen logprob | rank, top 1..20] */
export const LP_STRIDE = 1 + MAX_TOP_LOGPROBS;

export const FLAG_GREEDY = 1;
/** apply penalties from the slot's bins */
export const FLAG_PENALTY = 2;
/** add the sampled token to the slot's output count */
export const FLAG_COUNT = 4;
export const FLAG_LOGPROBS = 8;

/** One row of a sampling step, as the kernel sees it. */
export interface SamplingRow {
  /** the request's persistent sampler slot in [0, maxNumSeqs): penalty bins, last_token */
  slot: number;
  params: ResolvedSampling;
  /** tokens the request has generated so far: the RNG counter */
  step: number;
  /** do not count this sample in the penalty state (it will be thrown away) */
  discard?: boolean;
}

/** Words of `meta` for `maxNumSeqs` rows and `maxBias` bias entries: rows first, then bias entries. */
export function metaWords(maxNumSeqs: number, maxBias: number): number {
  return maxNumSeqs * ROW_WORDS + Math.max(1, maxBias) * BIAS_WORDS;
}

/**
 * Writes the rows (and their bias entries, from `biasOffset`) into `u32`/`f32` views of one
 * buffer. Returns the number of bias entries used. Allocates nothing.
 */
export function packRows(
  rows: readonly SamplingRow[],
  u32: Uint32Array,
  f32: Float32Array,
  biasOffset: number,
  maxBias: number,
): number {
  let nb = 0;
  for (let r = 0; r < rows.length; r++) {
    const { slot, params: p, step, discard } = rows[r]!;
    const nBias = p.logitBias.tokens.length;
    if (nb + nBias > maxBias) {
      throw new WgllmError('invalid_argument', `this step has more than ${maxBias} logit-bias entries; create the Sampler with a larger maxLogitBias`);
    }
    let flags = 0;
    if (p.greedy) flags |= FLAG_GREEDY;
    if (p.usesPenalties) flags |= FLAG_PENALTY | (discard ? 0 : FLAG_COUNT);
    if (p.logprobs >= 0) flags |= FLAG_LOGPROBS;
    const b = r * ROW_WORDS;
    u32[b] = slot;
    u32[b + 1] = flags;
    u32[b + 2] = p.seedLo;
    u32[b + 3] = p.seedHi;
    u32[b + 4] = step >>> 0;
    u32[b + 5] = p.topK;
    f32[b + 6] = p.topP;
    f32[b + 7] = p.lnMinP;
    f32[b + 8] = p.invTemperature;
    f32[b + 9] = p.repetitionPenalty;
    f32[b + 10] = p.invRepetitionPenalty;
    f32[b + 11] = p.presencePenalty;
    f32[b + 12] = p.frequencyPenalty;
    u32[b + 13] = nb;
    u32[b + 14] = nBias;
    u32[b + 15] = Math.max(0, p.logprobs);
    for (let j = 0; j < nBias; j++, nb++) {
      u32[biasOffset + BIAS_WORDS * nb] = p.logitBias.tokens[j]!;
      f32[biasOffset + BIAS_WORDS * nb + 1] = p.logitBias.biases[j]!;
    }
  }
  return nb;
}

/** Reads row `r` back (for the conformance reference, which sees only the packed buffer). */
export function unpackRow(u32: Uint32Array, f32: Float32Array, r: number, biasOffset: number): SamplingRow {
  const b = r * ROW_WORDS;
  const flags = u32[b + 1]!;
  const start = u32[b + 13]!;
  const n = u32[b + 14]!;
  const tokens = new Uint32Array(n);
  const biases = new Float32Array(n);
  for (let j = 0; j < n; j++) {
    tokens[j] = u32[biasOffset + BIAS_WORDS * (start + j)]!;
    biases[j] = f32[biasOffset + BIAS_WORDS * (start + j) + 1]!;
  }
  const penalties = (flags & FLAG_PENALTY) !== 0;
  return {
    slot: u32[b]!,
    step: u32[b + 4]!,
    discard: penalties && (flags & FLAG_COUNT) === 0,
    params: {
      greedy: (flags & FLAG_GREEDY) !== 0,
      topK: u32[b + 5]!,
      topP: f32[b + 6]!,
      lnMinP: f32[b + 7]!,
      invTemperature: f32[b + 8]!,
      repetitionPenalty: f32[b + 9]!,
      invRepetitionPenalty: f32[b + 10]!,
      presencePenalty: f32[b + 11]!,
      frequencyPenalty: f32[b + 12]!,
      usesPenalties: penalties,
      logitBias: { tokens, biases },
      logprobs: (flags & FLAG_LOGPROBS) !== 0 ? u32[b + 15]! : -1,
      seedLo: u32[b + 2]!,
      seedHi: u32[b + 3]!,
    },
  };
}
