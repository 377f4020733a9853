import { Rng } from '../core/random.js';
import { PENALTY_PROMPT_BIT } from '../core/reference/sampling.js';
import { grid1d } from '../gpu/grid.js';
import admitSource from '../../shaders/sampling-admit.wgsl?raw';
import feedSource from '../../shaders/sampling-feed.wgsl?raw';
import { bucket, workgroupSizes } from './common.js';
import type { HostTensors, KernelSpec } from './spec.js';
import { composeWgsl } from './wgsl.js';

/**
 * The two small companions of GPU sampling: penalty-state admission (reset a slot's bins, fill
 * them from the prompt; shaders/sampling-admit.wgsl) and feeding sampled tokens into the next
 * step's input ids (shaders/sampling-feed.wgsl).
 */

/** Marks an admission entry's token as already generated output (counted) rather than prompt (flagged). */
export const ADMIT_OUTPUT_FLAG = 0x80000000;

export interface AdmitShape {
  /** slots to reset this step */
  numClear: number;
  /** (slot, token) entries to add this step */
  numEntries: number;
  vocabSize: number;
  maxNumSeqs: number;
}

export interface AuxConfig {
  wg: number;
}

const ADMIT_UNIFORMS = { numClear: 'u32', numEntries: 'u32', vocabSize: 'u32' } as const;

function admitInputs(shape: AdmitShape, seed: number): HostTensors {
  const rng = new Rng(seed);
  const { numClear, numEntries, vocabSize: V, maxNumSeqs } = shape;
  const counts = new Uint32Array(maxNumSeqs * V);
  for (let i = 0; i < counts.length; i++) if (rng.next() < 0.05) counts[i] = rng.next() < 0.5 ? PENALTY_PROMPT_BIT : rng.int(1, 9);
  const admit = new Uint32Array(Math.max(1, numClear + 2 * numEntries));
  rng.shuffle(Array.from({ length: maxNumSeqs }, (_, i) => i)).slice(0, numClear).forEach((s, k) => (admit[k] = s));
  for (let j = 0; j < numEntries; j++) {
    admit[numClear + 2 * j] = rng.int(0, maxNumSeqs - 1);
    // A few tokens repeat, so atomics matter; a few are out of range and must be ignored.
    const t = rng.next() < 0.3 ? rng.int(0, 3) : rng.next() < 0.02 ? V + 5 : rng.int(0, V - 1);
    admit[numClear + 2 * j + 1] = (t | (rng.next() < 0.4 ? ADMIT_OUTPUT_FLAG : 0)) >>> 0;
  }
  return {
    admit: { dtype: 'u32', shape: [admit.length], data: admit },
    counts: { dtype: 'u32', shape: [maxNumSeqs, V], data: counts },
  };
}

/** CPU truth of clear followed by fill. */
export function admitRef(admit: Uint32Array, countsIn: Uint32Array, shape: AdmitShape, doClear: boolean, doFill: boolean): Uint32Array {
  const V = shape.vocabSize;
  const counts = countsIn.slice();
  if (doClear) for (let k = 0; k < shape.numClear; k++) counts.fill(0, admit[k]! * V, (admit[k]! + 1) * V);
  if (doFill) {
    for (let j = 0; j < shape.numEntries; j++) {
      const slot = admit[shape.numClear + 2 * j]!;
      const w = admit[shape.numClear + 2 * j + 1]!;
      const t = w & ~ADMIT_OUTPUT_FLAG;
      if (t >= V) continue;
      const at = slot * V + t;
      counts[at] = (w & ADMIT_OUTPUT_FLAG) !== 0 ? counts[at]! + 1 : (counts[at]! | PENALTY_PROMPT_BIT) >>> 0;
    }
  }
  return counts;
}

function admitSpec(entry: 'clear' | 'fill'): KernelSpec<AdmitShape, AuxConfig> {
  return {
    id: `sampling.admit_${entry}`,
    sources: [admitSource],
    uniforms: ADMIT_UNIFORMS,
    bindings: () => [
      { name: 'admit', binding: 0, kind: 'storage-read' },
      { name: 'counts', binding: 1, kind: 'storage' },
      { name: 'params', binding: 2, kind: 'uniform' },
    ],
    supports: () => [],
    space: (_s, dev) => workgroupSizes(dev, 64, 256).map((wg) => ({ wg })),
    defaultConfig: () => ({ wg: 256 }),
    build: (_s, cfg) => ({ source: composeWgsl(admitSource, { uniforms: ADMIT_UNIFORMS }), entryPoint: entry, constants: { WG: cfg.wg } }),
    dispatch(shape, cfg, dev) {
      const none = entry === 'clear' ? shape.numClear === 0 : shape.numEntries === 0;
      const grid: [number, number, number] = none
        ? [0, 1, 1]
        : entry === 'clear'
          ? [Math.ceil(shape.vocabSize / cfg.wg), shape.numClear, 1]
          : grid1d(Math.ceil(shape.numEntries / cfg.wg), dev.limits.maxComputeWorkgroupsPerDimension);
      return { grid, uniforms: { numClear: shape.numClear, numEntries: shape.numEntries, vocabSize: shape.vocabSize } };
    },
    problemKey: (s) => `v${s.vocabSize}:e${bucket(s.numEntries)}`,
    outputs: () => ['counts'],
    makeInputs: admitInputs,
    reference: (inputs, shape) => ({
      counts: {
        dtype: 'u32',
        shape: [shape.maxNumSeqs, shape.vocabSize],
        data: admitRef(inputs.admit!.data as Uint32Array, inputs.counts!.data as Uint32Array, shape, entry === 'clear', entry === 'fill'),
      },
    }),
    tolerance: () => ({ atol: 0, rtol: 0 }),
  };
}

export const samplingClearSpec = admitSpec('clear');
export const samplingFillSpec = admitSpec('fill');

export interface FeedShape {
  numFeeds: number;
  maxNumSeqs: number;
  /** length of the ids buffer */
  numTokens: number;
}

const FEED_UNIFORMS = { numFeeds: 'u32' } as const;

export const samplingFeedSpec: KernelSpec<FeedShape, AuxConfig> = {
  id: 'sampling.feed',
  sources: [feedSource],
  uniforms: FEED_UNIFORMS,
  bindings: () => [
    { name: 'feed', binding: 0, kind: 'storage-read' },
    { name: 'lastToken', binding: 1, kind: 'storage-read' },
    { name: 'ids', binding: 2, kind: 'storage' },
    { name: 'params', binding: 3, kind: 'uniform' },
  ],
  supports: () => [],
  space: (_s, dev) => workgroupSizes(dev, 32, 256).map((wg) => ({ wg })),
  defaultConfig: () => ({ wg: 64 }),
  build: (_s, cfg) => ({ source: composeWgsl(feedSource, { uniforms: FEED_UNIFORMS }), entryPoint: 'main', constants: { WG: cfg.wg } }),
  dispatch: (shape, cfg, dev) => ({
    grid: shape.numFeeds === 0 ? [0, 1, 1] : grid1d(Math.ceil(shape.numFeeds / cfg.wg), dev.limits.maxComputeWorkgroupsPerDimension),
    uniforms: { numFeeds: shape.numFeeds },
  }),
  problemKey: (s) => `f${bucket(s.numFeeds)}`,
  outputs: () => ['ids'],
  makeInputs(shape, seed): HostTensors {
    const rng = new Rng(seed);
    const ids = Uint32Array.from({ length: shape.numTokens }, () => rng.int(0, 1e6));
    const lastToken = Uint32Array.from({ length: shape.maxNumSeqs }, () => rng.int(0, 1e6));
    const feed = new Uint32Array(Math.max(1, 2 * shape.numFeeds));
    const dsts = rng.shuffle(Array.from({ length: shape.numTokens }, (_, i) => i));
    for (let j = 0; j < shape.numFeeds; j++) {
      feed[2 * j] = dsts[j]!;
      feed[2 * j + 1] = rng.int(0, shape.maxNumSeqs - 1);
    }
    return {
      feed: { dtype: 'u32', shape: [feed.length], data: feed },
      lastToken: { dtype: 'u32', shape: [shape.maxNumSeqs], data: lastToken },
      ids: { dtype: 'u32', shape: [shape.numTokens], data: ids },
    };
  },
  reference(inputs, shape): HostTensors {
    const ids = (inputs.ids!.data as Uint32Array).slice();
    const feed = inputs.feed!.data as Uint32Array;
    const last = inputs.lastToken!.data as Uint32Array;
    for (let j = 0; j < shape.numFeeds; j++) ids[feed[2 * j]!] = last[feed[2 * j + 1]!]!;
    return { ids: { dtype: 'u32', shape: [shape.numTokens], data: ids } };
  },
  tolerance: () => ({ atol: 0, rtol: 0 }),
};
