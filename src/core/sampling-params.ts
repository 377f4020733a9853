import { WgllmError } from './errors.js';

/**
 * Per-request sampling parameters, shaped like OpenAI's / vLLM's (camelCase). Everything is
 * optional; `resolveSampling` turns them into the numbers the GPU sampler and its CPU reference
 * compute with. Semantics follow vLLM V1:
 *
 *   raw logits -> + logitBias -> penalties (repetition, frequency, presence) -> [greedy: argmax]
 *   -> / temperature -> min-p -> top-k -> top-p -> sample from softmax of what is kept
 *
 * Logprobs are those of the RAW model logits (log-softmax before bias, penalties and
 * temperature): vLLM's default `logprobs_mode = 'raw_logprobs'`.
 */
export interface SamplingParams {
  /** >= 0; below 1e-5 means greedy (argmax, ties to the lowest id). Default 1. */
  temperature?: number;
  /** (0, 1]; 1 = off. Keeps the smallest top set whose probability reaches topP (ties at the edge all kept). */
  topP?: number;
  /** -1 or 0 = off; else keep tokens whose logit is >= the k-th largest (ties at the edge all kept). */
  topK?: number;
  /** [0, 1]; drop tokens whose probability is below minP * (max probability). 0 = off. */
  minP?: number;
  /** Integer seed: same seed, same tokens, whatever else is in the batch. Unseeded requests get a random one. */
  seed?: number;
  /** > 0; 1 = off. Tokens seen in prompt or output: logit / r if positive, logit * r otherwise. */
  repetitionPenalty?: number;
  /** [-2, 2]; subtracted once from each token that occurs in the output so far. */
  presencePenalty?: number;
  /** [-2, 2]; subtracted once per occurrence in the output so far. */
  frequencyPenalty?: number;
  /** token id -> bias added to its raw logit (OpenAI: [-100, 100]). */
  logitBias?: Readonly<Record<number, number>>;
  /** undefined: no logprobs; 0: the chosen token's logprob only; n (<= 20): plus the top n. */
  logprobs?: number;
  // ---- generation control: used by the engine, not by the sampler ----
  maxTokens?: number;
  stop?: string | readonly string[];
  stopTokenIds?: readonly number[];
  ignoreEos?: boolean;
}

export const MAX_TOP_LOGPROBS = 20;
/** vLLM's _SAMPLING_EPS: temperatures below it sample greedily. */
export const SAMPLING_EPS = 1e-5;
/** Finite stand-in for -infinity (WGSL may assume no infinities). */
export const NEG_BIG = -3.0e38;

/**
 * What the sampler computes with for one request, resolved once at admission. Every float is
 * already rounded to f32, exactly as the GPU receives it, so the CPU reference and the kernel
 * start from identical numbers.
 */
export interface ResolvedSampling {
  greedy: boolean;
  /** f32(1 / temperature); 1 when greedy. The kernel multiplies (WGSL division is not exact). */
  invTemperature: number;
  /** 0 = off; otherwise 1 <= topK < vocabSize */
  topK: number;
  /** f32; 1 = off */
  topP: number;
  /** f32(ln minP); NEG_BIG = off. Keep iff (v - vmax) >= lnMinP on tempered logits. */
  lnMinP: number;
  repetitionPenalty: number;
  /** f32(1 / repetitionPenalty), as vLLM multiplies positive logits by 1/r */
  invRepetitionPenalty: number;
  presencePenalty: number;
  frequencyPenalty: number;
  /** any of the three penalties is active: the request needs penalty state on the GPU */
  usesPenalties: boolean;
  /** sorted by token, unique, every id < vocabSize; bias rounded to f32 */
  logitBias: { tokens: Uint32Array; biases: Float32Array };
  /** -1: none; 0: chosen token only; n: chosen + top n (n <= min(20, vocabSize)) */
  logprobs: number;
  /** the 64-bit seed as two u32 words */
  seedLo: number;
  seedHi: number;
}

const f32 = Math.fround;

function bad(msg: string): never {
  throw new WgllmError('invalid_argument', msg);
}

function num(v: number | undefined, dflt: number, name: string, lo: number, hi: number, loOpen = false): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v) || v > hi || v < lo || (loOpen && v === lo)) {
    bad(`${name} must be a number in ${loOpen ? '(' : '['}${lo}, ${hi}], got ${String(v)}`);
  }
  return v;
}

// Random words drawn from Web Crypto in batches: one getRandomValues call cost ~0.09 ms (Node),
// which a request paid on its way to its first token when it drew its seed alone.
const seedWords = new Uint32Array(256);
let seedNext = seedWords.length;

/** A random 53-bit seed, for requests that did not give one (Web Crypto: Node >= 19 and browsers). */
export function randomSeed(): number {
  if (seedNext + 2 > seedWords.length) {
    globalThis.crypto.getRandomValues(seedWords);
    seedNext = 0;
  }
  const hi = seedWords[seedNext++]! & 0x1fffff;
  return hi * 2 ** 32 + seedWords[seedNext++]!;
}

/** Splits an integer seed (any sign, |seed| <= 2^53) into its low and high u32 words (two's complement). */
export function splitSeed(seed: number): [number, number] {
  if (!Number.isSafeInteger(seed)) bad(`seed must be an integer with |seed| <= 2^53 - 1, got ${seed}`);
  const b = BigInt.asUintN(64, BigInt(seed));
  return [Number(b & 0xffffffffn), Number(b >> 32n)];
}

/**
 * Validates `p` and resolves it for a model with `vocabSize` tokens. `seed` is the request's
 * seed: its own, or a random one the engine draws once at admission (never per step).
 * Throws WgllmError('invalid_argument') with the offending field.
 */
export function resolveSampling(p: SamplingParams, vocabSize: number, seed: number = p.seed ?? randomSeed()): ResolvedSampling {
  const temperature = num(p.temperature, 1, 'temperature', 0, 1e6);
  const topP = num(p.topP, 1, 'topP', 0, 1, true);
  const minP = num(p.minP, 0, 'minP', 0, 1);
  const rep = num(p.repetitionPenalty, 1, 'repetitionPenalty', 0, 1e6, true);
  const presence = num(p.presencePenalty, 0, 'presencePenalty', -2, 2);
  const frequency = num(p.frequencyPenalty, 0, 'frequencyPenalty', -2, 2);
  let topK = p.topK ?? 0;
  if (!Number.isInteger(topK) || topK < -1) bad(`topK must be -1, 0 or a positive integer, got ${topK}`);
  if (topK < 0 || topK >= vocabSize) topK = 0;
  let logprobs = -1;
  if (p.logprobs !== undefined) {
    if (!Number.isInteger(p.logprobs) || p.logprobs < 0 || p.logprobs > MAX_TOP_LOGPROBS) {
      bad(`logprobs must be an integer in [0, ${MAX_TOP_LOGPROBS}], got ${p.logprobs}`);
    }
    logprobs = Math.min(p.logprobs, vocabSize);
  }
  const entries = Object.entries(p.logitBias ?? {}).map(([k, v]) => {
    const t = Number(k);
    if (!Number.isInteger(t) || t < 0 || t >= vocabSize) bad(`logitBias token ${k} is not an id in [0, ${vocabSize})`);
    if (typeof v !== 'number' || !Number.isFinite(v)) bad(`logitBias[${k}] must be a finite number`);
    return [t, v] as const;
  });
  entries.sort((a, b) => a[0] - b[0]);
  const [seedLo, seedHi] = splitSeed(seed);
  const greedy = temperature < SAMPLING_EPS;
  return {
    greedy,
    invTemperature: greedy ? 1 : f32(1 / temperature),
    topK,
    topP: f32(topP),
    lnMinP: minP > 0 ? f32(Math.log(minP)) : NEG_BIG,
    repetitionPenalty: f32(rep),
    invRepetitionPenalty: f32(1 / f32(rep)),
    presencePenalty: f32(presence),
    frequencyPenalty: f32(frequency),
    usesPenalties: rep !== 1 || presence !== 0 || frequency !== 0,
    logitBias: { tokens: Uint32Array.from(entries, (e) => e[0]), biases: Float32Array.from(entries, (e) => e[1]) },
    logprobs,
    seedLo,
    seedHi,
  };
}
