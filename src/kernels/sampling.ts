import type { ActDType } from '../core/dtype.js';
import { sampleRowRef } from '../core/reference/sampling.js';
import { grid1d } from '../gpu/grid.js';
import type { DeviceInfo } from '../gpu/device-info.js';
import source from '../../shaders/sampling.wgsl?raw';
import mathLib from '../../shaders/sampling-math.wgsl?raw';
import selectLib from '../../shaders/sampling-select.wgsl?raw';
import { actSupport, bucket, workgroupSizes } from './common.js';
import { makeSamplingProblem, type SamplingProblem } from './sampling-cases.js';
import { LP_STRIDE, metaWords, packRows, ROW_WORDS, unpackRow } from './sampling-layout.js';
import type { BindingDecl, HostTensors, KernelSpec } from './spec.js';
import { composeWgsl } from './wgsl.js';

/**
 * GPU sampling (shaders/sampling.wgsl): one workgroup per row turns logits into a token, with
 * penalties, bias, temperature, min-p / top-k / top-p and seeded Gumbel-max; the chosen token's
 * raw logprob, rank and top-n logprobs on request. The `Sampler` (sampling-sampler.ts) owns the
 * buffers and packing for the engine; this spec is the contract the tuner and selftest see.
 */
export interface SamplingShape {
  act: ActDType;
  /** rows sampled this step (<= maxNumSeqs) */
  numRows: number;
  vocabSize: number;
  /** slots: rows of the penalty bins and of last_token */
  maxNumSeqs: number;
  /** capacity of the logit-bias entries in `meta` */
  maxBias: number;
}

export interface SamplingConfig {
  wg: number;
  reduce: 'plain' | 'subgroup';
}

const UNIFORMS = { numRows: 'u32', vocabSize: 'u32', biasOffset: 'u32' } as const;
/** words of workgroup memory per invocation: NP=8 reduction lanes + the reduce library's one */
const SHARED_WORDS_PER_INVOCATION = 9;

export const samplingSpec: KernelSpec<SamplingShape, SamplingConfig> = {
  id: 'sampling',
  sources: [source, mathLib, selectLib],
  uniforms: UNIFORMS,

  bindings(): BindingDecl[] {
    return [
      { name: 'logits', binding: 0, kind: 'storage-read' },
      { name: 'meta', binding: 1, kind: 'storage-read' },
      { name: 'counts', binding: 2, kind: 'storage' },
      { name: 'work', binding: 3, kind: 'storage' },
      { name: 'tokenIds', binding: 4, kind: 'storage' },
      { name: 'lastToken', binding: 5, kind: 'storage' },
      { name: 'lpValues', binding: 6, kind: 'storage' },
      { name: 'lpIds', binding: 7, kind: 'storage' },
      { name: 'params', binding: 8, kind: 'uniform' },
    ];
  },

  supports(shape, dev) {
    const reasons = actSupport(shape.act, dev);
    if (dev.limits.maxStorageBuffersPerShaderStage < 7) reasons.push('sampling binds 7 storage buffers');
    // `work` (f32) and the penalty bins (u32) are both [maxNumSeqs, vocabSize].
    const bytes = shape.maxNumSeqs * shape.vocabSize * 4;
    if (bytes > dev.limits.maxStorageBufferBindingSize) {
      reasons.push(`[maxNumSeqs, vocabSize] scratch needs ${bytes} bytes, more than maxStorageBufferBindingSize; lower maxNumSeqs`);
    }
    if (shape.numRows > shape.maxNumSeqs) reasons.push('numRows > maxNumSeqs');
    if (shape.vocabSize < 1 || shape.vocabSize >= 2 ** 31) reasons.push('vocabSize out of range');
    if (samplingSpec.space(shape, dev).length === 0) reasons.push('not enough workgroup memory for 64 invocations');
    return reasons;
  },

  space(_shape, dev) {
    const reduces: SamplingConfig['reduce'][] = dev.features.subgroups ? ['plain', 'subgroup'] : ['plain'];
    return workgroupSizes(dev, 64, 1024)
      .filter((wg) => wg * SHARED_WORDS_PER_INVOCATION * 4 + 256 <= dev.limits.maxComputeWorkgroupStorageSize)
      .flatMap((wg) => reduces.map((reduce) => ({ wg, reduce })));
  },

  defaultConfig(shape, dev) {
    // One workgroup per row is latency-bound: take as many invocations as the device allows
    // (H200, 151936 tokens: 1024 runs 2.5-3x faster than 256), but keep >= 16 elements per
    // invocation, since barriers cost more than they save on small vocabularies.
    const sizes = samplingSpec.space(shape, dev).map((c) => c.wg);
    const want = Math.min(1024, Math.max(64, bucket(Math.ceil(shape.vocabSize / 16))));
    return { wg: sizes.includes(want) ? want : Math.max(64, ...sizes.filter((s) => s <= want)), reduce: 'plain' };
  },

  build(shape, cfg) {
    return {
      source: composeWgsl(source, { act: shape.act, uniforms: UNIFORMS, reduce: cfg.reduce, libs: [mathLib, selectLib] }),
      entryPoint: 'main',
      constants: { WG: cfg.wg },
    };
  },

  dispatch(shape, _cfg, dev: DeviceInfo) {
    return {
      grid: shape.numRows === 0 ? [0, 1, 1] : grid1d(shape.numRows, dev.limits.maxComputeWorkgroupsPerDimension),
      uniforms: { numRows: shape.numRows, vocabSize: shape.vocabSize, biasOffset: shape.maxNumSeqs * ROW_WORDS },
    };
  },

  problemKey: (s) => `${s.act}:v${s.vocabSize}:rows${bucket(s.numRows)}`,

  outputs: () => ['tokenIds', 'lastToken', 'lpValues', 'lpIds', 'counts'],

  makeInputs(shape, seed): HostTensors {
    const { act, numRows, vocabSize, maxNumSeqs } = shape;
    return samplingInputs(makeSamplingProblem({ act, numRows, vocabSize, maxNumSeqs, seed }), shape);
  },

  reference(inputs, shape): HostTensors {
    const V = shape.vocabSize;
    const meta = inputs.meta!.data as Uint32Array;
    const metaF = new Float32Array(meta.buffer, meta.byteOffset, meta.length);
    const logits = inputs.logits!.data as Float32Array;
    const counts = (inputs.counts!.data as Uint32Array).slice();
    const out = {
      tokenIds: (inputs.tokenIds!.data as Uint32Array).slice(),
      lastToken: (inputs.lastToken!.data as Uint32Array).slice(),
      lpValues: (inputs.lpValues!.data as Float32Array).slice(),
      lpIds: (inputs.lpIds!.data as Uint32Array).slice(),
    };
    for (let r = 0; r < shape.numRows; r++) {
      const row = unpackRow(meta, metaF, r, shape.maxNumSeqs * ROW_WORDS);
      const bins = counts.subarray(row.slot * V, (row.slot + 1) * V);
      const res = sampleRowRef({ logits: logits.subarray(r * V, (r + 1) * V), params: row.params, step: row.step, counts: bins });
      out.tokenIds[r] = res.token;
      out.lastToken[row.slot] = res.token;
      // The output count lives in the low 31 bits; it never carries into the prompt bit.
      if (row.params.usesPenalties && !row.discard) bins[res.token]! += 1;
      if (row.params.logprobs >= 0) {
        const o = r * LP_STRIDE;
        out.lpValues[o] = res.logprob;
        out.lpIds[o] = res.rank;
        res.topIds.forEach((id, j) => {
          out.lpIds[o + 1 + j] = id;
          out.lpValues[o + 1 + j] = res.topLogprobs[j]!;
        });
      }
    }
    const t = (dtype: 'u32' | 'f32', shape_: number[], data: Uint32Array | Float32Array) => ({ dtype, shape: shape_, data });
    return {
      tokenIds: t('u32', [shape.numRows], out.tokenIds),
      lastToken: t('u32', [shape.maxNumSeqs], out.lastToken),
      lpValues: t('f32', [shape.numRows, LP_STRIDE], out.lpValues),
      lpIds: t('u32', [shape.numRows, LP_STRIDE], out.lpIds),
      counts: t('u32', [shape.maxNumSeqs, V], counts),
    };
  },

  // Token ids, ranks, top ids and counts are integers: any difference fails. Logprobs: an f32
  // log-sum-exp over up to 152k terms against an f64 one (see core/reference/sampling.ts).
  tolerance: () => ({ atol: 1e-4, rtol: 0 }),
};

/** Host tensors of a sampling problem for this shape (bias lists beyond maxBias are dropped). */
export function samplingInputs(prob: SamplingProblem, shape: SamplingShape): HostTensors {
  const { act, numRows, vocabSize: V, maxNumSeqs, maxBias } = shape;
  const meta = new Uint32Array(metaWords(maxNumSeqs, maxBias));
  let used = 0;
  for (const row of prob.rows) {
    const n = row.params.logitBias.tokens.length;
    if (used + n > maxBias) row.params.logitBias = { tokens: new Uint32Array(0), biases: new Float32Array(0) };
    else used += n;
  }
  packRows(prob.rows, meta, new Float32Array(meta.buffer), maxNumSeqs * ROW_WORDS, maxBias);
  return {
    logits: { dtype: act, shape: [numRows, V], data: prob.logits },
    meta: { dtype: 'u32', shape: [meta.length], data: meta },
    counts: { dtype: 'u32', shape: [maxNumSeqs, V], data: prob.counts },
    work: { dtype: 'f32', shape: [numRows, V], data: new Float32Array(Math.max(1, numRows * V)) },
    tokenIds: { dtype: 'u32', shape: [numRows], data: new Uint32Array(Math.max(1, numRows)) },
    lastToken: { dtype: 'u32', shape: [maxNumSeqs], data: new Uint32Array(maxNumSeqs).fill(0xdeadbeef) },
    lpValues: { dtype: 'f32', shape: [numRows, LP_STRIDE], data: new Float32Array(Math.max(1, numRows * LP_STRIDE)) },
    lpIds: { dtype: 'u32', shape: [numRows, LP_STRIDE], data: new Uint32Array(Math.max(1, numRows * LP_STRIDE)) },
  };
}
