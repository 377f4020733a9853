import { describe, expect, it } from 'vitest';
import { isWgllmError } from '../../src/core/errors.js';
import { lnExponential, PENALTY_PROMPT_BIT, processLogits, sampleRowRef, samplingUniform, xxh32x4 } from '../../src/core/reference/sampling.js';
import { NEG_BIG, resolveSampling, splitSeed } from '../../src/core/sampling-params.js';
import { packRows, unpackRow, metaWords, ROW_WORDS } from '../../src/kernels/sampling-layout.js';

// A plain byte-wise XXH32 (all input lengths), to pin xxh32x4 to the published algorithm.
function xxh32(data: Uint8Array, seed = 0): number {
  const [P1, P2, P3, P4, P5] = [0x9e3779b1, 0x85ebca77, 0xc2b2ae3d, 0x27d4eb2f, 0x165667b1];
  const rotl = (x: number, r: number) => ((x << r) | (x >>> (32 - r))) >>> 0;
  const rd = (p: number) => (data[p]! | (data[p + 1]! << 8) | (data[p + 2]! << 16) | (data[p + 3]! << 24)) >>> 0;
  const round = (acc: number, v: number) => Math.imul(rotl((acc + Math.imul(v, P2)) >>> 0, 13), P1) >>> 0;
  let i = 0;
  let h: number;
  if (data.length >= 16) {
    let v = [(seed + P1 + P2) >>> 0, (seed + P2) >>> 0, seed >>> 0, (seed - P1) >>> 0];
    for (; i + 16 <= data.length; i += 16) v = v.map((acc, k) => round(acc, rd(i + 4 * k)));
    h = (rotl(v[0]!, 1) + rotl(v[1]!, 7) + rotl(v[2]!, 12) + rotl(v[3]!, 18)) >>> 0;
  } else h = (seed + P5) >>> 0;
  h = (h + data.length) >>> 0;
  for (; i + 4 <= data.length; i += 4) h = Math.imul(rotl((h + Math.imul(rd(i), P3)) >>> 0, 17), P4) >>> 0;
  for (; i < data.length; i++) h = Math.imul(rotl((h + Math.imul(data[i]!, P5)) >>> 0, 11), P1) >>> 0;
  h = Math.imul(h ^ (h >>> 15), P2) >>> 0;
  h = Math.imul(h ^ (h >>> 13), P3) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

const enc = new TextEncoder();

describe('sampling RNG', () => {
  it('byte-wise XXH32 matches published vectors', () => {
    expect(xxh32(new Uint8Array(0))).toBe(0x02cc5d05);
    expect(xxh32(enc.encode('abc'))).toBe(0x32d153ff);
    expect(xxh32(enc.encode('Nobody inspects the spammish repetition'))).toBe(0xe2293b2f);
  });

  it('xxh32x4 is XXH32 of the 16 little-endian bytes', () => {
    for (const words of [[0, 0, 0, 0], [1, 2, 3, 4], [0xffffffff, 0x80000000, 12345, 151935]]) {
      const bytes = new Uint8Array(new Uint32Array(words).buffer);
      expect(xxh32x4(words[0]!, words[1]!, words[2]!, words[3]!)).toBe(xxh32(bytes));
    }
  });

  it('uniforms stay strictly inside (0, 1) and exponentials are finite', () => {
    for (const h of [0, 1, 255, 256, 0xffffff00, 0xffffffff]) {
      const u = samplingUniform(h);
      expect(u).toBeGreaterThan(0);
      expect(u).toBeLessThan(1);
    }
    expect(Number.isFinite(lnExponential(0, 0, 0, 0))).toBe(true);
  });

  it('splits seeds into two words, negative ones in two complement', () => {
    expect(splitSeed(5)).toEqual([5, 0]);
    expect(splitSeed(2 ** 32 + 7)).toEqual([7, 1]);
    expect(splitSeed(-1)).toEqual([0xffffffff, 0xffffffff]);
  });
});

describe('resolveSampling', () => {
  it('fills OpenAI/vLLM defaults and rounds to f32', () => {
    const r = resolveSampling({}, 1000, 1);
    expect(r).toMatchObject({ greedy: false, invTemperature: 1, topK: 0, topP: 1, lnMinP: NEG_BIG, usesPenalties: false, logprobs: -1 });
    const g = resolveSampling({ temperature: 0, topK: 5000, minP: 0.1, logprobs: 3 }, 1000, 1);
    expect(g.greedy).toBe(true);
    expect(g.topK).toBe(0); // k >= vocab is off
    expect(g.lnMinP).toBe(Math.fround(Math.log(0.1)));
    expect(g.logprobs).toBe(3);
    expect(resolveSampling({ temperature: 0.7 }, 10, 1).invTemperature).toBe(Math.fround(1 / 0.7));
  });

  it('sorts the bias by token and refuses bad values with the field name', () => {
    const r = resolveSampling({ logitBias: { 9: 1, 2: -3 } }, 10, 1);
    expect(Array.from(r.logitBias.tokens)).toEqual([2, 9]);
    for (const [p, field] of [
      [{ topP: 0 }, 'topP'],
      [{ temperature: -1 }, 'temperature'],
      [{ logitBias: { 10: 1 } }, 'logitBias'],
      [{ logprobs: 21 }, 'logprobs'],
      [{ repetitionPenalty: 0 }, 'repetitionPenalty'],
      [{ topK: 1.5 }, 'topK'],
    ] as const) {
      let err: unknown;
      try {
        resolveSampling(p, 10, 1);
      } catch (e) {
        err = e;
      }
      expect(isWgllmError(err, 'invalid_argument')).toBe(true);
      expect((err as Error).message).toContain(field);
    }
  });
});

describe('reference semantics', () => {
  const f = (a: number[]) => Float32Array.from(a);

  it('applies vLLM penalties: repetition on prompt+output, frequency/presence on output only', () => {
    const p = resolveSampling({ repetitionPenalty: 2, frequencyPenalty: 0.5, presencePenalty: 0.25 }, 4, 1);
    const counts = Uint32Array.from([PENALTY_PROMPT_BIT, 3, (PENALTY_PROMPT_BIT | 1) >>> 0, 0]);
    const y = processLogits(f([4, -4, 4, 4]), p, counts);
    expect(Array.from(y)).toEqual([2, -8 - 1.5 - 0.25, 2 - 0.5 - 0.25, 4]);
  });

  it('adds the bias before the penalties', () => {
    const p = resolveSampling({ repetitionPenalty: 2, logitBias: { 0: 6 } }, 2, 1);
    // bias first: (-1 + 6) / 2 = 2.5; the other order would give -1 * 2 + 6 = 4
    expect(Array.from(processLogits(f([-1, 1]), p, Uint32Array.from([PENALTY_PROMPT_BIT, 0])))).toEqual([2.5, 1]);
  });

  it('greedy takes the lowest id among equal maxima', () => {
    expect(sampleRowRef({ logits: f([1, 3, 3, 2]), params: resolveSampling({ temperature: 0 }, 4, 1), step: 0 }).token).toBe(1);
  });

  it('top-k keeps ties at the k-th value; top-p keeps the smallest top set reaching p', () => {
    const logits = f([0, 2, 1, 2, 1, -1]);
    const k = resolveSampling({ topK: 2 }, 6, 1);
    expect(sampleRowRef({ logits, params: k, step: 0 }).kept).toBe(2);
    const k3 = resolveSampling({ topK: 3 }, 6, 1);
    expect(sampleRowRef({ logits, params: k3, step: 0 }).kept).toBe(4); // 2, 2, 1, 1
    // softmax of [2,2,1,1,0,-1]: the two 2s hold ~0.61 of the mass
    expect(sampleRowRef({ logits, params: resolveSampling({ topP: 0.5 }, 6, 1), step: 0 }).kept).toBe(2);
    expect(sampleRowRef({ logits, params: resolveSampling({ topP: 0.7 }, 6, 1), step: 0 }).kept).toBe(4);
    // min-p 0.3: keep p >= 0.3 * pmax, i.e. logit >= 2 + ln 0.3 = 0.796
    expect(sampleRowRef({ logits, params: resolveSampling({ minP: 0.3 }, 6, 1), step: 0 }).kept).toBe(4);
  });

  it('computes raw logprobs, rank and top-n with ties by lowest id', () => {
    const logits = f([1, 3, 3, 2]);
    const r = sampleRowRef({ logits, params: resolveSampling({ temperature: 0, logprobs: 2, logitBias: { 3: 5 } }, 4, 1), step: 0 });
    const lse = Math.log(Math.exp(1) + 2 * Math.exp(3) + Math.exp(2));
    expect(r.token).toBe(3); // bias changes the choice, not the logprobs
    expect(r.logprob).toBeCloseTo(2 - lse, 12);
    expect(r.rank).toBe(3);
    expect(r.topIds).toEqual([1, 2]);
  });

  it('packs and unpacks rows losslessly', () => {
    const params = resolveSampling({ temperature: 0.8, topK: 7, topP: 0.9, minP: 0.05, presencePenalty: 0.5, logitBias: { 3: 1.5, 1: -2 }, logprobs: 4, seed: 2 ** 40 + 3 }, 100, 0);
    const words = metaWords(4, 8);
    const u = new Uint32Array(words);
    const fl = new Float32Array(u.buffer);
    const rows = [{ slot: 3, params, step: 17, discard: true }, { slot: 0, params, step: 1 }];
    expect(packRows(rows, u, fl, 4 * ROW_WORDS, 8)).toBe(4);
    const back = unpackRow(u, fl, 1, 4 * ROW_WORDS);
    expect(back.slot).toBe(0);
    expect(back.step).toBe(1);
    expect(back.params).toEqual(params);
    expect(unpackRow(u, fl, 0, 4 * ROW_WORDS).discard).toBe(true);
    expect(() => packRows([...rows, ...rows, ...rows], u, fl, 4 * ROW_WORDS, 8)).toThrow(/logit-bias/);
  });
});
