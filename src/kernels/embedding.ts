import type { ActDType } from '../core/dtype.js';
import { roundAs } from '../core/dtype.js';
import { Rng } from '../core/random.js';
import { embeddingRef } from '../core/reference/elementwise.js';
import { grid1d } from '../gpu/grid.js';
import source from '../../shaders/embedding.wgsl?raw';
import weightsF32 from '../../shaders/lib/weights-f32.wgsl?raw';
import weightsF16 from '../../shaders/lib/weights-f16.wgsl?raw';
import weightsQ8_0 from '../../shaders/lib/weights-q8_0.wgsl?raw';
import weightsQ4_0 from '../../shaders/lib/weights-q4_0.wgsl?raw';
import weightsQ5_0 from '../../shaders/lib/weights-q5_0.wgsl?raw';
import weightsQ4_K from '../../shaders/lib/weights-q4_k.wgsl?raw';
import weightsQ6_K from '../../shaders/lib/weights-q6_k.wgsl?raw';
import { blockFormat, type QuantDType } from '../core/dtype.js';
import { dequantize, quantize } from '../core/reference/dequant.js';
import { actSupport, bucket, randomAct, workgroupSizes, zerosAct } from './common.js';
import type { HostTensors, KernelSpec } from './spec.js';
import { composeWgsl } from './wgsl.js';

/** Table storage formats the gather reads directly (GGUF block formats as stored in the file). */
export type EmbeddingTableDType = 'f32' | 'f16' | QuantDType;
const WEIGHT_LIBS: Record<EmbeddingTableDType, string> = {
  f32: weightsF32,
  f16: weightsF16,
  q8_0: weightsQ8_0,
  q4_0: weightsQ4_0,
  q5_0: weightsQ5_0,
  q4_k: weightsQ4_K,
  q6_k: weightsQ6_K,
};

export interface EmbeddingShape {
  act: ActDType;
  table: EmbeddingTableDType;
  numTokens: number;
  hiddenSize: number;
  vocabSize: number;
}

export interface EmbeddingConfig {
  wg: number;
}

const UNIFORMS = { numTokens: 'u32', hiddenSize: 'u32', vocabSize: 'u32' } as const;

export const embeddingSpec: KernelSpec<EmbeddingShape, EmbeddingConfig> = {
  id: 'embedding',
  sources: [source, ...Object.values(WEIGHT_LIBS)],
  uniforms: UNIFORMS,
  bindings() {
    return [
      { name: 'ids', binding: 0, kind: 'storage-read' },
      { name: 'weights', binding: 1, kind: 'storage-read' },
      { name: 'out', binding: 2, kind: 'storage' },
      { name: 'params', binding: 3, kind: 'uniform' },
    ];
  },
  supports(shape, dev) {
    const reasons = actSupport(shape.act, dev);
    const block = blockFormat(shape.table).blockElems;
    if ((shape.vocabSize * shape.hiddenSize) % block !== 0) reasons.push(`a ${shape.table} table must hold whole blocks of ${block}`);
    return reasons;
  },
  space: (_shape, dev) => workgroupSizes(dev, 32, 1024).map((wg) => ({ wg })),
  defaultConfig: () => ({ wg: 256 }),
  build(shape, cfg) {
    return {
      source: composeWgsl(source, { act: shape.act, uniforms: UNIFORMS, libs: [WEIGHT_LIBS[shape.table]] }),
      entryPoint: 'main',
      constants: { WG: cfg.wg },
    };
  },
  dispatch(shape, cfg, dev) {
    const n = shape.numTokens * shape.hiddenSize;
    return {
      grid: grid1d(Math.ceil(n / cfg.wg), dev.limits.maxComputeWorkgroupsPerDimension),
      uniforms: { numTokens: shape.numTokens, hiddenSize: shape.hiddenSize, vocabSize: shape.vocabSize },
    };
  },
  problemKey: (s) => `${s.act}:${s.table}:tok${bucket(s.numTokens)}:h${s.hiddenSize}`,
  outputs: () => ['out'],
  makeInputs(shape, seed): HostTensors {
    const rng = new Rng(seed);
    const ids = new Uint32Array(shape.numTokens);
    // Mostly valid ids, plus out-of-range ones that must produce zero rows.
    for (let t = 0; t < shape.numTokens; t++) ids[t] = rng.next() < 0.9 ? rng.int(0, shape.vocabSize - 1) : shape.vocabSize + t;
    return {
      ids: { dtype: 'u32', shape: [shape.numTokens], data: ids },
      weights: randomTable(rng, shape.table, shape.vocabSize, shape.hiddenSize),
      out: zerosAct(shape.act, [shape.numTokens, shape.hiddenSize]),
    };
  },
  reference(inputs, shape): HostTensors {
    const w = inputs.weights!;
    const table = w.dtype === 'bytes' ? dequantize(shape.table, w.data as Uint8Array, shape.vocabSize * shape.hiddenSize) : (w.data as Float32Array);
    const data = embeddingRef(
      table,
      inputs.ids!.data as Uint32Array,
      shape.vocabSize,
      shape.hiddenSize,
      roundAs(shape.act),
    );
    return { out: { dtype: shape.act, shape: [shape.numTokens, shape.hiddenSize], data } };
  },
  // A gather copies values: exact, except one rounding to f16 storage (WGSL lets a conversion
  // round either way, so allow one f16 ulp).
  tolerance: (shape) => (shape.act === 'f32' ? { atol: 0, rtol: 0 } : { atol: 1e-7, rtol: 1e-3 }),
};

/** [vocabSize, hiddenSize] random values stored as `table` (block formats: quantized bytes). */
function randomTable(rng: Rng, table: EmbeddingTableDType, vocabSize: number, hiddenSize: number): HostTensors[string] {
  if (table === 'f32' || table === 'f16') return randomAct(rng, table, [vocabSize, hiddenSize]);
  const values = new Float32Array(vocabSize * hiddenSize);
  for (let i = 0; i < values.length; i++) values[i] = rng.normal();
  return { dtype: 'bytes', shape: [vocabSize, hiddenSize], data: quantize(table, values) };
}
