import { describe, expect, it } from 'vitest';
import { isWgllmError } from '../../src/core/errors.js';
import { Rng } from '../../src/core/random.js';
import { PENALTY_PROMPT_BIT, sampleRowRef } from '../../src/core/reference/sampling.js';
import { resolveSampling, type SamplingParams } from '../../src/core/sampling-params.js';
import { createBuffer, readBuffer, writeBuffer } from '../../src/gpu/buffers.js';
import type { SamplingRow } from '../../src/kernels/sampling-layout.js';
import { Sampler } from '../../src/kernels/sampling-sampler.js';
import type { SampleResult } from '../../src/kernels/sampling-readback.js';
import { testGpu } from '../support/gpu.js';

// The engine-facing Sampler on real WebGPU: per-request determinism whatever the batch,
// penalty state across steps (admission on the GPU, counts updated by the kernel), feeding
// tokens to the next step, the readback ring, and the sampled distribution itself.
const ctx = await testGpu();
const MAX = 64;

async function setup(V: number, opts: { penalties?: boolean; readbackDepth?: number } = {}) {
  const sampler = await Sampler.create(ctx, { act: 'f32', vocabSize: V, maxNumSeqs: MAX, ...opts });
  const logits = createBuffer(ctx, MAX * V * 4, 'test:logits'); // [MAX, V] f32
  await sampler.bindLogits(logits);
  const step = async (rows: SamplingRow[], data: Float32Array): Promise<SampleResult> => {
    writeBuffer(ctx, logits, 0, data);
    sampler.prepare(rows);
    const enc = ctx.device.createCommandEncoder();
    const pass = enc.beginComputePass();
    sampler.encode(pass, logits);
    pass.end();
    const rb = sampler.encodeReadback(enc);
    ctx.queue.submit([enc.finish()]);
    return rb.read();
  };
  return { sampler, logits, step };
}

function rowsData(rows: Float32Array[]): Float32Array {
  const V = rows[0]!.length;
  const out = new Float32Array(rows.length * V);
  rows.forEach((r, i) => out.set(r, i * V));
  return out;
}

function randomLogits(rng: Rng, V: number, scale = 1.5): Float32Array {
  return Float32Array.from({ length: V }, () => rng.normal() * scale);
}

describe('Sampler', () => {
  it('a seeded request draws the same tokens whatever its batch, slot and row', async () => {
    const V = 1000;
    const { step } = await setup(V);
    const rng = new Rng(1);
    const reqs = [11, 22, 33].map((seed) => ({ params: resolveSampling({ temperature: 1, topP: 0.95, logprobs: 2 }, V, seed), logits: randomLogits(rng, V) }));
    const [a, b, c] = reqs as [(typeof reqs)[0], (typeof reqs)[0], (typeof reqs)[0]];
    const seqA: number[][] = [[], [], []];
    for (let k = 0; k < 6; k++) {
      const r1 = await step(
        [a, b, c].map((q, i) => ({ slot: i, params: q.params, step: k })),
        rowsData([a.logits, b.logits, c.logits]),
      );
      const r2 = await step(
        [{ slot: 40, params: c.params, step: k + 3 }, { slot: 7, params: a.params, step: k }],
        rowsData([c.logits, a.logits]),
      );
      const r3 = await step([{ slot: 63, params: a.params, step: k }], a.logits);
      seqA[0]!.push(r1.tokenIds[0]!);
      seqA[1]!.push(r2.tokenIds[1]!);
      seqA[2]!.push(r3.tokenIds[0]!);
      expect(r2.logprobs[1]!.logprob).toBe(r1.logprobs[0]!.logprob);
      expect(sampleRowRef({ logits: a.logits, params: a.params, step: k }).token).toBe(r1.tokenIds[0]);
    }
    expect(seqA[1]).toEqual(seqA[0]);
    expect(seqA[2]).toEqual(seqA[0]);
    expect(new Set(seqA[0]).size).toBeGreaterThan(1); // the step counter moves the draw
    // Another seed, same logits and steps: a different sequence.
    const other = resolveSampling({ temperature: 1, topP: 0.95 }, V, 12);
    const seqB: number[] = [];
    for (let k = 0; k < 6; k++) seqB.push((await step([{ slot: 0, params: other, step: k }], a.logits)).tokenIds[0]!);
    expect(seqB).not.toEqual(seqA[0]);
  });

  it('sampled frequencies follow the distribution (chi-square, 1024 draws per case)', async () => {
    const V = 16;
    const { step } = await setup(V);
    const logits = Float32Array.from({ length: V }, (_, i) => Math.fround(Math.log(V - i) + (i % 3) * 0.1));
    const cases: { p: SamplingParams; chi2Max: number }[] = [
      { p: { temperature: 1 }, chi2Max: 37.7 }, // df 15, alpha 0.001
      { p: { temperature: 0.7, topK: 4 }, chi2Max: 16.27 }, // df 3
      { p: { temperature: 1.3, topP: 0.5 }, chi2Max: 30 }, // df <= 15
    ];
    for (const { p, chi2Max } of cases) {
      const hist = new Array<number>(V).fill(0);
      let mismatches = 0;
      let compared = 0;
      for (let k = 0; k < 16; k++) {
        const rows = Array.from({ length: MAX }, (_, s) => ({ slot: s, params: resolveSampling(p, V, 1000 + s), step: k }));
        const res = await step(rows, rowsData(rows.map(() => logits)));
        rows.forEach((row, r) => {
          const tok = res.tokenIds[r]!;
          hist[tok]!++;
          const ref = sampleRowRef({ logits, params: row.params, step: k });
          if (ref.margins.gumbel >= 1e-4) {
            compared++;
            if (ref.token !== tok) mismatches++;
          }
        });
      }
      // expected: softmax of the tempered logits over the kept set (the reference's own set)
      const params = resolveSampling(p, V, 0);
      const v = Array.from(logits, (x) => Math.fround(x * params.invTemperature));
      const order = v.map((_, i) => i).sort((i, j) => v[j]! - v[i]!);
      const keptN = sampleRowRef({ logits, params, step: 0 }).kept;
      const kept = new Set(order.slice(0, keptN));
      const z = [...kept].reduce((acc, i) => acc + Math.exp(v[i]!), 0);
      let chi2 = 0;
      let outside = 0;
      for (let i = 0; i < V; i++) {
        if (!kept.has(i)) {
          outside += hist[i]!;
          continue;
        }
        const e = (16 * MAX * Math.exp(v[i]!)) / z;
        chi2 += (hist[i]! - e) ** 2 / e;
      }
      expect(outside).toBe(0);
      expect(chi2, `${JSON.stringify(p)} hist ${hist}`).toBeLessThan(chi2Max);
      expect(mismatches).toBe(0);
      expect(compared).toBeGreaterThan(1000);
    }
  });

  it('keeps penalty state on the GPU: admission, per-step counts, discard, slot reuse', async () => {
    const V = 40;
    const { sampler, step } = await setup(V);
    const rng = new Rng(4);
    const logits = Float32Array.from({ length: V }, () => 2 + rng.normal() * 0.3); // close values: penalties matter
    const params = resolveSampling({ temperature: 0, repetitionPenalty: 1.3, frequencyPenalty: 0.4, presencePenalty: 0.2 }, V, 1);
    const prompt = [3, 3, 7, 11];
    const bins = new Uint32Array(V);
    for (const t of prompt) bins[t] = (bins[t]! | PENALTY_PROMPT_BIT) >>> 0;
    bins[5] = 2; // two tokens already generated before a preemption
    await sampler.admit(9, params, prompt, [5, 5]);
    const seen: number[] = [];
    for (let k = 0; k < 12; k++) {
      const discard = k === 4;
      const res = await step([{ slot: 9, params, step: k, discard }], logits);
      const want = sampleRowRef({ logits, params, step: k, counts: bins }).token;
      expect(res.tokenIds[0], `step ${k}`).toBe(want);
      if (!discard) bins[want]!++;
      seen.push(want);
    }
    expect(new Set(seen).size).toBeGreaterThan(3); // penalties rotate the greedy choice
    // A new request on the same slot starts from a clean slate.
    await sampler.admit(9, params, [0]);
    const fresh = new Uint32Array(V);
    fresh[0] = PENALTY_PROMPT_BIT;
    const res = await step([{ slot: 9, params, step: 0 }], logits);
    expect(res.tokenIds[0]).toBe(sampleRowRef({ logits, params, step: 0, counts: fresh }).token);
  });

  it('feeds sampled tokens into the next step ids on the GPU', async () => {
    const V = 100;
    const { sampler, step } = await setup(V);
    const ids = createBuffer(ctx, 10 * 4, 'test:ids'); // [10] u32
    await sampler.bindFeed(ids);
    const g = resolveSampling({ temperature: 0 }, V, 1);
    const rng = new Rng(2);
    const la = randomLogits(rng, V);
    const lb = randomLogits(rng, V);
    const res = await step([{ slot: 2, params: g, step: 0 }, { slot: 0, params: g, step: 0 }], rowsData([la, lb]));
    writeBuffer(ctx, ids, 0, Uint32Array.from({ length: 10 }, (_, i) => 1000 + i));
    sampler.prepareFeed([{ dst: 4, slot: 2 }, { dst: 7, slot: 0 }]);
    const enc = ctx.device.createCommandEncoder();
    const pass = enc.beginComputePass();
    sampler.encodeFeed(pass, ids);
    pass.end();
    ctx.queue.submit([enc.finish()]);
    const got = new Uint32Array(await readBuffer(ctx, ids));
    expect(got[4]).toBe(res.tokenIds[0]);
    expect(got[7]).toBe(res.tokenIds[1]);
    expect(got[5]).toBe(1005);
  });

  it('reads back one step behind through its ring, and decodes logprobs', async () => {
    const V = 50;
    const { sampler, logits } = await setup(V, { readbackDepth: 2 });
    const rng = new Rng(3);
    const x = randomLogits(rng, V);
    writeBuffer(ctx, logits, 0, rowsData([x, x]));
    const rows = (k: number): SamplingRow[] => [
      { slot: 0, params: resolveSampling({ temperature: 0, logprobs: 5 }, V, 1), step: k },
      { slot: 1, params: resolveSampling({ temperature: 1 }, V, 1), step: k },
    ];
    const submitStep = (k: number) => {
      sampler.prepare(rows(k));
      const enc = ctx.device.createCommandEncoder();
      const pass = enc.beginComputePass();
      sampler.encode(pass, logits);
      pass.end();
      const rb = sampler.encodeReadback(enc);
      ctx.queue.submit([enc.finish()]);
      return rb;
    };
    const rb0 = submitStep(0);
    const rb1 = submitStep(1);
    expect(() => submitStep(2)).toThrow(/in flight/);
    const [r0, r1] = [await rb0.read(), await rb1.read()];
    for (const [r, k] of [[r0, 0], [r1, 1]] as const) {
      const ref = sampleRowRef({ logits: x, params: rows(k)[1]!.params, step: k });
      expect(r.tokenIds[1]).toBe(ref.token);
      expect(r.logprobs[1]).toBeUndefined();
    }
    const lp = r0.logprobs[0]!;
    const ref = sampleRowRef({ logits: x, params: rows(0)[0]!.params, step: 0 });
    expect(lp.rank).toBe(1);
    expect(Array.from(lp.topIds)).toEqual(ref.topIds);
    lp.topLogprobs.forEach((v, j) => expect(Math.abs(v - ref.topLogprobs[j]!)).toBeLessThan(1e-4));
    expect(Math.abs(lp.logprob - ref.logprob)).toBeLessThan(1e-4);
    await submitStep(2).read(); // slots are free again
  });

  it('refuses bad steps with typed errors', async () => {
    const V = 10;
    const { sampler } = await setup(V, { penalties: false });
    const p = resolveSampling({}, V, 1);
    const expectCode = (f: () => unknown, code: 'invalid_argument' | 'unsupported') => {
      let err: unknown;
      try {
        f();
      } catch (e) {
        err = e;
      }
      expect(isWgllmError(err, code), String(err)).toBe(true);
    };
    expectCode(() => sampler.prepare([{ slot: 1, params: p, step: 0 }, { slot: 1, params: p, step: 0 }]), 'invalid_argument');
    expectCode(() => sampler.prepare([{ slot: MAX, params: p, step: 0 }]), 'invalid_argument');
    expectCode(() => sampler.prepare([{ slot: 0, params: resolveSampling({ presencePenalty: 1 }, V, 1), step: 0 }]), 'unsupported');
    await expect(sampler.admit(0, resolveSampling({ frequencyPenalty: 1 }, V, 1), [1])).rejects.toThrow(/penalties/);
  });
});
