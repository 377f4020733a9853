import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/core/random.js';
import { sampleRowRef } from '../../src/core/reference/sampling.js';
import { resolveSampling } from '../../src/core/sampling-params.js';
import { runKernel } from '../../src/kernels/harness.js';
import { compareTensors } from '../../src/kernels/host-tensors.js';
import type { HostTensors } from '../../src/kernels/spec.js';
import { samplingInputs, samplingSpec, type SamplingShape } from '../../src/kernels/sampling.js';
import { samplingClearSpec, samplingFeedSpec, samplingFillSpec } from '../../src/kernels/sampling-aux.js';
import { makeSamplingProblem, ROW_KINDS, rowLogits, type ProblemOptions, type SamplingProblem } from '../../src/kernels/sampling-cases.js';
import { LP_STRIDE, type SamplingRow } from '../../src/kernels/sampling-layout.js';
import { testGpu } from '../support/gpu.js';

// The sampling kernel against its CPU reference on real WebGPU (SwiftShader here, f32 logits).
// Test rows are drawn tie-free (sampling-cases.ts), so tokens, ranks, ids and counts must be
// equal; logprobs within 1e-4. f16 logits run where the adapter has shader-f16 (the lead's GPU).
const ctx = await testGpu();

function shapeOf(prob: SamplingProblem, act: 'f32' | 'f16' = 'f32'): SamplingShape {
  return { act, numRows: prob.rows.length, vocabSize: prob.vocabSize, maxNumSeqs: prob.counts.length / prob.vocabSize, maxBias: 256 };
}

async function runBoth(shape: SamplingShape, inputs: HostTensors) {
  const want = samplingSpec.reference(inputs, shape);
  const got = await runKernel(ctx, samplingSpec, shape, samplingSpec.defaultConfig(shape, ctx.info), inputs);
  return { got, want };
}

async function expectMatch(shape: SamplingShape, inputs: HostTensors) {
  const { got, want } = await runBoth(shape, inputs);
  for (const name of samplingSpec.outputs(shape)) {
    const cmp = compareTensors(got[name]!.data, want[name]!.data, samplingSpec.tolerance(shape));
    expect(cmp.ok, `${name}: first bad ${JSON.stringify(cmp.firstBad)}, max |err| ${cmp.maxAbsErr}`).toBe(true);
  }
  return { got, want };
}

function problem(o: Partial<ProblemOptions> & { vocabSize: number; numRows: number }): SamplingProblem {
  return makeSamplingProblem({ act: 'f32', maxNumSeqs: o.numRows + 3, seed: 1, ...o });
}

describe('sampling kernel', () => {
  it('greedy is the argmax of the logits, ties to the lowest id', async () => {
    const V = 777;
    const prob = problem({ vocabSize: V, numRows: 6, kinds: ['greedy'], logprobsRate: 0 });
    const rng = new Rng(3);
    for (let r = 0; r < 6; r++) {
      const row = prob.logits.subarray(r * V, (r + 1) * V);
      const top = Math.max(...row) + 1;
      // plant equal maxima in rows 0-2 (in descending id order, so "first seen" would be wrong)
      if (r < 3) for (const i of [rng.int(400, 776), rng.int(200, 399), rng.int(0, 199)]) row[i] = top;
    }
    const shape = shapeOf(prob);
    const { got } = await expectMatch(shape, samplingInputs(prob, shape));
    for (let r = 0; r < 6; r++) {
      const row = prob.logits.subarray(r * V, (r + 1) * V);
      expect(got.tokenIds!.data[r]).toBe(row.indexOf(Math.max(...row)));
    }
  });

  for (const kind of ROW_KINDS) {
    it(`${kind} rows match the reference (vocab 512)`, async () => {
      const prob = problem({ vocabSize: 512, numRows: 16, kinds: [kind], seed: 11 + kind.length });
      const shape = shapeOf(prob);
      await expectMatch(shape, samplingInputs(prob, shape));
    });
  }

  for (const [V, numRows] of [[1001, 12], [49152, 6], [151936, 3]] as const) {
    it(`mixed rows at vocab ${V}`, async () => {
      const prob = problem({ vocabSize: V, numRows, seed: V });
      const shape = shapeOf(prob);
      await expectMatch(shape, samplingInputs(prob, shape));
    });
  }

  it('top logprobs break ties by lowest id (many equal logits)', async () => {
    const V = 3000;
    const prob = problem({ vocabSize: V, numRows: 6, logprobsRate: 1, seed: 5 });
    // Coarse values: hundreds of tokens share each of the top values, so top-20 must pick ids.
    for (let i = 0; i < prob.logits.length; i++) prob.logits[i] = Math.round(prob.logits[i]! * 2) / 2;
    for (const row of prob.rows) row.params = { ...row.params, greedy: true, logprobs: 20 };
    const shape = shapeOf(prob);
    const { got } = await expectMatch(shape, samplingInputs(prob, shape));
    let straddled = 0;
    for (let r = 0; r < 6; r++) {
      const sorted = Array.from(prob.logits.subarray(r * V, (r + 1) * V)).sort((a, b) => b - a);
      if (sorted[19] === sorted[20]) straddled++; // the tie search had to pick ids
      const o = r * LP_STRIDE;
      for (let j = 1; j < 20; j++) {
        const [v0, v1] = [got.lpValues!.data[o + j]!, got.lpValues!.data[o + j + 1]!];
        expect(v0).toBeGreaterThanOrEqual(v1);
        if (v0 === v1) expect(got.lpIds!.data[o + j]).toBeLessThan(got.lpIds!.data[o + j + 1]!);
      }
    }
    expect(straddled).toBeGreaterThan(0);
  });

  it('flat top-p on 151936 tokens keeps the right set within f32 mass error', async () => {
    const V = 151936;
    const rng = new Rng(9);
    const rows: SamplingRow[] = [0, 1, 2].map((slot) => ({ slot, step: slot, params: resolveSampling({ topP: [0.5, 0.9, 0.99][slot]! }, V, 100 + slot) }));
    const logits = new Float32Array(3 * V);
    for (let r = 0; r < 3; r++) logits.set(rowLogits(rng, 'f32', V), r * V);
    const prob: SamplingProblem = { vocabSize: V, logits, rows, counts: new Uint32Array(3 * V) };
    const shape = shapeOf(prob);
    const { got } = await runBoth(shape, samplingInputs(prob, shape));
    for (let r = 0; r < 3; r++) {
      const x = logits.subarray(r * V, (r + 1) * V);
      // Wider p keeps a superset: the GPU's token must be kept with p raised by 2e-5.
      const p = rows[r]!.params;
      const wide = sampleRowRef({ logits: x, params: { ...p, topP: Math.min(1, p.topP + 2e-5), greedy: false }, step: rows[r]!.step });
      const exact = sampleRowRef({ logits: x, params: p, step: rows[r]!.step });
      const tok = got.tokenIds!.data[r]!;
      expect(tok === exact.token || tok === wide.token).toBe(true);
    }
  });

  it('edge cases: vocab 1, top-k 1, min-p 1, an empty step', async () => {
    const one: SamplingProblem = {
      vocabSize: 1,
      logits: Float32Array.from([0.5, -2]),
      rows: [
        { slot: 1, step: 0, params: resolveSampling({ logprobs: 1 }, 1, 3) },
        { slot: 0, step: 9, params: resolveSampling({ topP: 0.5, minP: 0.5 }, 1, 4) },
      ],
      counts: new Uint32Array(2),
    };
    const s1 = shapeOf(one);
    const r1 = await expectMatch(s1, samplingInputs(one, s1));
    expect(Array.from(r1.got.tokenIds!.data)).toEqual([0, 0]);
    expect(r1.got.lpValues!.data[0]).toBeCloseTo(0, 6);

    const V = 300;
    const prob = problem({ vocabSize: V, numRows: 4, kinds: ['temperature'], logprobsRate: 0, seed: 8 });
    prob.rows[0]!.params = { ...prob.rows[0]!.params, topK: 1 };
    prob.rows[1]!.params = { ...prob.rows[1]!.params, lnMinP: 0 };
    const shape = shapeOf(prob);
    const { got } = await expectMatch(shape, samplingInputs(prob, shape));
    for (const r of [0, 1]) {
      const row = prob.logits.subarray(r * V, (r + 1) * V);
      expect(got.tokenIds!.data[r]).toBe(row.indexOf(Math.max(...row)));
    }

    const empty = { ...shape, numRows: 0 };
    const inputs = samplingInputs({ ...prob, rows: [], logits: new Float32Array(0) }, empty);
    const res = await runKernel(ctx, samplingSpec, empty, samplingSpec.defaultConfig(empty, ctx.info), inputs);
    expect(res.lastToken!.data[0]).toBe(0xdeadbeef);
  });

  it('writes logprobs only for rows that ask, and only n top entries', async () => {
    const prob = problem({ vocabSize: 600, numRows: 8, logprobsRate: 0.5, seed: 21 });
    const shape = shapeOf(prob);
    const { got } = await expectMatch(shape, samplingInputs(prob, shape));
    prob.rows.forEach((row, r) => {
      const n = row.params.logprobs;
      const ids = (got.lpIds!.data as Uint32Array).subarray(r * LP_STRIDE, (r + 1) * LP_STRIDE);
      if (n < 0) expect(ids.every((v) => v === 0)).toBe(true);
      else expect(ids.subarray(1 + n).every((v) => v === 0)).toBe(true);
    });
  });
});

describe('sampling companions', () => {
  for (const [spec, shape] of [
    [samplingClearSpec, { numClear: 3, numEntries: 500, vocabSize: 1001, maxNumSeqs: 5 }],
    [samplingFillSpec, { numClear: 3, numEntries: 500, vocabSize: 1001, maxNumSeqs: 5 }],
    [samplingFillSpec, { numClear: 0, numEntries: 70000, vocabSize: 37, maxNumSeqs: 2 }],
    [samplingFeedSpec, { numFeeds: 77, maxNumSeqs: 100, numTokens: 300 }],
  ] as const) {
    it(`${spec.id} ${JSON.stringify(shape)}`, async () => {
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      const s = spec as any;
      const inputs = s.makeInputs(shape, 4);
      const want = s.reference(inputs, shape);
      const got = await runKernel(ctx, s, shape, s.defaultConfig(shape, ctx.info), inputs);
      for (const name of s.outputs(shape)) expect(Array.from(got[name]!.data)).toEqual(Array.from(want[name]!.data));
    });
  }
});
