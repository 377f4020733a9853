import type { ActDType } from '../core/dtype.js';
import { samplingSpec, type SamplingShape } from './sampling.js';
import { samplingClearSpec, samplingFeedSpec, samplingFillSpec, type AdmitShape, type FeedShape } from './sampling-aux.js';
import type { ConformanceFamily } from './conformance-family.js';

/**
 * The sampling families of the conformance suite (spread into FAMILIES in conformance.ts).
 * makeInputs draws rows of every kind (greedy, temperature, top-k, top-p, min-p, penalties,
 * logit bias, logprobs) on random slots, each redrawn until it is far from a near-tie, so tokens
 * must match the reference exactly and logprobs within 1e-4. Vocabularies up to Qwen's 151936.
 */

const s = (act: ActDType, numRows: number, vocabSize: number, maxNumSeqs = numRows + 2, maxBias = 64): SamplingShape => ({
  act,
  numRows,
  vocabSize,
  maxNumSeqs,
  maxBias,
});
const admit = (numClear: number, numEntries: number, vocabSize: number, maxNumSeqs: number): AdmitShape => ({ numClear, numEntries, vocabSize, maxNumSeqs });
const feed = (numFeeds: number, maxNumSeqs: number, numTokens: number): FeedShape => ({ numFeeds, maxNumSeqs, numTokens });

export const SAMPLING_FAMILIES: ConformanceFamily[] = [
  {
    spec: samplingSpec,
    fixed: (act) => [
      { label: '1 row, vocab 1', shape: s(act, 1, 1) },
      { label: '16 rows x 1001', shape: s(act, 16, 1001) },
      { label: '64 rows x 257, bias capacity 4', shape: s(act, 64, 257, 64, 4) },
      { label: '4 rows x 32000', shape: s(act, 4, 32000) },
      { label: '2 rows x 151936', shape: s(act, 2, 151936) },
    ],
    random: (act, rng) => s(act, rng.int(1, 24), rng.int(2, 5000)),
    small: (act) => s(act, 6, 777),
  },
  {
    spec: samplingClearSpec,
    fixed: () => [
      { label: '3 of 5 slots x 1001', shape: admit(3, 10, 1001, 5) },
      { label: '1 slot x 151936', shape: admit(1, 0, 151936, 2) },
    ],
    random: (_act, rng) => admit(rng.int(1, 4), rng.int(0, 100), rng.int(1, 3000), 4),
    small: () => admit(2, 5, 333, 3),
  },
  {
    spec: samplingFillSpec,
    fixed: () => [
      { label: '500 entries x 1001', shape: admit(3, 500, 1001, 5) },
      { label: '70000 entries, 37 tokens (contended atomics)', shape: admit(0, 70000, 37, 2) },
    ],
    random: (_act, rng) => admit(rng.int(0, 3), rng.int(1, 5000), rng.int(1, 3000), 4),
    small: () => admit(2, 300, 333, 3),
  },
  {
    spec: samplingFeedSpec,
    fixed: () => [
      { label: '1 feed', shape: feed(1, 1, 1) },
      { label: '77 feeds into 300 ids', shape: feed(77, 100, 300) },
    ],
    random: (_act, rng) => {
      const numTokens = rng.int(1, 2000);
      return feed(rng.int(0, Math.min(numTokens, 256)), 256, numTokens);
    },
    small: () => feed(5, 8, 9),
  },
];
