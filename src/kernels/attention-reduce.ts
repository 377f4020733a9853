import type { ActDType } from '../core/dtype.js';
import { roundAs } from '../core/dtype.js';
import { Rng } from '../core/random.js';
import { ATTN_MASKED, reduceSplitsRef } from '../core/reference/attention.js';
import { grid1d } from '../gpu/grid.js';
import source from '../../shaders/attention-reduce.wgsl?raw';
import { actSupport, bucket, workgroupSizes, zerosAct } from './common.js';
import type { HostTensors, KernelSpec } from './spec.js';
import { composeWgsl } from './wgsl.js';

/** Split-KV reduce (shaders/attention-reduce.wgsl): partials of 'attention.paged-split' -> out. */
export interface AttentionReduceShape {
  act: ActDType;
  headDim: number;
  /** numTokens * numHeads */
  numRows: number;
  numSplits: number;
}

export interface AttentionReduceConfig {
  wg: number;
}

export const REDUCE_UNIFORMS = { numRows: 'u32', numSplits: 'u32' } as const;

export function reduceGrid(numRows: number, headDim: number, wg: number, maxPerDim: number): [number, number, number] {
  return grid1d(Math.ceil((numRows * headDim) / 4 / wg), maxPerDim);
}

export const attentionReduceSpec: KernelSpec<AttentionReduceShape, AttentionReduceConfig> = {
  id: 'attention.reduce',
  sources: [source],
  uniforms: REDUCE_UNIFORMS,
  bindings: () => [
    { name: 'partOut', binding: 0, kind: 'storage-read' },
    { name: 'partMl', binding: 1, kind: 'storage-read' },
    { name: 'out', binding: 2, kind: 'storage' },
    { name: 'params', binding: 3, kind: 'uniform' },
  ],
  supports(s, dev) {
    const r = actSupport(s.act, dev);
    if (s.headDim % 4 !== 0) r.push(`headDim ${s.headDim} must be a multiple of 4`);
    return r;
  },
  space: (_s, dev) => workgroupSizes(dev, 32, 256).map((wg) => ({ wg })),
  defaultConfig: () => ({ wg: 64 }),
  build: (s, cfg) => ({
    source: composeWgsl(source, { act: s.act, uniforms: REDUCE_UNIFORMS }),
    entryPoint: 'main',
    constants: { WG: cfg.wg, D: s.headDim },
  }),
  dispatch: (s, cfg, dev) => ({
    grid: reduceGrid(s.numRows, s.headDim, cfg.wg, dev.limits.maxComputeWorkgroupsPerDimension),
    uniforms: { numRows: s.numRows, numSplits: s.numSplits },
  }),
  problemKey: (s) => `${s.act}:d${s.headDim}:rows${bucket(s.numRows)}:splits${bucket(s.numSplits)}`,
  outputs: () => ['out'],
  makeInputs(s, seed): HostTensors {
    const rng = new Rng(seed);
    const partOut = new Float32Array(s.numSplits * s.numRows * s.headDim);
    const partMl = new Float32Array(s.numSplits * s.numRows * 2);
    for (let i = 0; i < partOut.length; i++) partOut[i] = rng.normal() * 10;
    for (let r = 0; r < s.numRows; r++) {
      // Some splits empty (as for short sequences in a long batch), never all of them.
      const keep = rng.int(0, s.numSplits - 1);
      for (let sp = 0; sp < s.numSplits; sp++) {
        const i = sp * s.numRows + r;
        const empty = sp !== keep && rng.next() < 0.3;
        partMl[2 * i] = empty ? ATTN_MASKED : rng.uniform(-20, 20);
        partMl[2 * i + 1] = empty ? 0 : rng.uniform(1, 50);
        if (empty) partOut.fill(0, i * s.headDim, (i + 1) * s.headDim);
      }
    }
    return {
      partOut: { dtype: 'f32', shape: [s.numSplits, s.numRows, s.headDim], data: partOut },
      partMl: { dtype: 'f32', shape: [s.numSplits, s.numRows, 2], data: partMl },
      out: zerosAct(s.act, [s.numRows, s.headDim]),
    };
  },
  reference(inputs, s): HostTensors {
    const data = reduceSplitsRef(
      inputs.partOut!.data as Float32Array,
      inputs.partMl!.data as Float32Array,
      s.numSplits,
      s.numRows,
      s.headDim,
      roundAs(s.act),
    );
    return { out: { dtype: s.act, shape: [s.numRows, s.headDim], data } };
  },
  tolerance: (s) => (s.act === 'f32' ? { atol: 1e-5, rtol: 1e-4 } : { atol: 2e-3, rtol: 4e-3 }),
};
