import { describe, expect, it } from 'vitest';
import { f32ToF16Bits } from '../../src/core/dtype.js';
import { Rng } from '../../src/core/random.js';
import type { Int8Format } from '../../src/core/reference/matmul.js';
import { packedXErrors } from '../../src/kernels/int8-x.js';
import type { DeviceInfo } from '../../src/gpu/device-info.js';
import { compareTensors } from '../../src/kernels/host-tensors.js';
import { runKernel } from '../../src/kernels/harness.js';
import {
  decodeMatmulSpec,
  matmulGemvInt8PreSpec,
  matmulGemvInt8Spec,
  matmulGemvSpec,
  matmulQuantizeXSpec,
  type MatmulShape,
} from '../../src/kernels/matmul.js';
import type { HostTensors } from '../../src/kernels/spec.js';
import { testGpu } from '../support/gpu.js';

// The batch-decode int8 path end to end on the GPU: x quantized by matmul.quantize-x, then
// multiplied by matmul.gemv-int8-pre, against the exact product with x quantized on the CPU.
// (Each kernel alone: the pre GEMV is in the conformance suite with CPU-packed inputs; the
// quantizer's words are compared here byte by byte, allowing the rare rounding tie that the
// GPU's division may resolve the other way.)
const ctx = await testGpu();

const SHAPES: MatmulShape[] = [
  { act: 'f32', weight: 'q4_0', M: 5, N: 37, K: 640, bias: true },
  { act: 'f32', weight: 'q8_0', M: 8, N: 19, K: 4096, bias: false },
  { act: 'f32', weight: 'q4_0', M: 3, N: 70, K: 14336, bias: false },
  { act: 'f32', weight: 'q6_k', M: 4, N: 23, K: 2304, bias: true }, // 9 blocks a row: odd rows start mid-word
];

/** quantize-x on the GPU, checked against packRowsQ8; then the pre GEMV on its output against the reference. */
async function quantizeThenGemv(shape: MatmulShape, inputs: HostTensors): Promise<void> {
  const q = await runKernel(ctx, matmulQuantizeXSpec, shape, matmulQuantizeXSpec.defaultConfig(shape, ctx.info), { ...matmulQuantizeXSpec.makeInputs(shape, 11), x: inputs.x! });
  // the quantizer against the CPU's packing: equal but for rare ties (a byte off by one)
  const err = packedXErrors(inputs.x!.data as Float32Array, shape.M, shape.K, shape.weight as Int8Format, q.xq!.data as Uint32Array, q.xs!.data as Uint32Array);
  expect(err).toBeUndefined();
  // the GEMV on the GPU's words, within the in-kernel GEMV's tolerance (which allows ties)
  const y = await runKernel(ctx, matmulGemvInt8PreSpec, shape, matmulGemvInt8PreSpec.defaultConfig(shape, ctx.info), { ...inputs, xq: q.xq!, xs: q.xs! });
  expectClose(y, shape, inputs);
}

function expectClose(y: HostTensors, shape: MatmulShape, inputs: HostTensors): void {
  const ref = matmulGemvInt8Spec.reference(inputs, shape);
  const cmp = compareTensors(y.y!.data, ref.y!.data, matmulGemvInt8Spec.tolerance(shape));
  expect(cmp.ok, cmp.firstBad ? `y[${cmp.firstBad.index}] = ${cmp.firstBad.got}, want ${cmp.firstBad.want}` : '').toBe(true);
}

describe(`quantize-x then gemv-int8-pre on ${ctx.info.vendor} ${ctx.info.device || ctx.info.description}`, () => {
  for (const shape of SHAPES) {
    const missing = matmulGemvInt8PreSpec.supports(shape, ctx.info);
    it.skipIf(missing.length > 0)(`${shape.weight} ${shape.M}x${shape.N}x${shape.K}`, async () => {
      await quantizeThenGemv(shape, matmulGemvInt8PreSpec.makeInputs(shape, 11));
    });
  }
});

/**
 * Q6_K weights of random bytes (d fixed small, so |w| <= 0.5): negative scales, q = 0 (-32) and
 * every high-bit pattern, which the conformance suite's encoder never writes (positive scales,
 * q in 1..63).
 */
function randomByteQ6K(shape: MatmulShape, seed: number): HostTensors {
  const inputs = matmulGemvInt8Spec.makeInputs(shape, seed);
  const rng = new Rng(seed + 1);
  const blocks = (shape.N * shape.K) / 256;
  const bytes = new Uint8Array(blocks * 210);
  for (let i = 0; i < bytes.length; i++) bytes[i] = rng.int(0, 255);
  const d = f32ToF16Bits(1 / 8192);
  for (let b = 0; b < blocks; b++) {
    bytes[b * 210 + 208] = d & 0xff;
    bytes[b * 210 + 209] = d >> 8;
  }
  return { ...inputs, w: { dtype: 'bytes', shape: [shape.N, shape.K], data: bytes } };
}

describe('Q6_K int8 GEMVs on any bytes', () => {
  const one: MatmulShape = { act: 'f32', weight: 'q6_k', M: 1, N: 13, K: 1280, bias: false };
  it.skipIf(matmulGemvInt8Spec.supports(one, ctx.info).length > 0)('one row of x (x quantized in the kernel)', async () => {
    const inputs = randomByteQ6K(one, 3);
    const y = await runKernel(ctx, matmulGemvInt8Spec, one, matmulGemvInt8Spec.defaultConfig(one, ctx.info), inputs);
    expectClose(y, one, inputs);
  });
  const few: MatmulShape = { ...one, M: 3, N: 10, bias: true };
  it.skipIf(matmulGemvInt8PreSpec.supports(few, ctx.info).length > 0)('three rows (quantize-x, then the pre GEMV)', async () => {
    await quantizeThenGemv(few, randomByteQ6K(few, 4));
  });
});

describe('decode routing', () => {
  // an adapter with shader-f16 and packed dot products (the int8 GEMVs' needs)
  const dev: DeviceInfo = { ...ctx.info, features: { ...ctx.info.features, f16: true, packedDot: true } };
  const shape = (weight: MatmulShape['weight'], M: number, act: MatmulShape['act'] = 'f16'): MatmulShape => ({ act, weight, M, N: 128256, K: 4096, bias: false });
  it('sends Q4_0, Q8_0 and Q6_K rows with f16 activations to the int8 GEMV, the rest to the f32 GEMV', () => {
    for (const w of ['q4_0', 'q8_0', 'q6_k'] as const) {
      for (const M of [1, 8]) expect(decodeMatmulSpec(shape(w, M), dev)).toBe(matmulGemvInt8PreSpec);
      expect(decodeMatmulSpec(shape(w, 1, 'f32'), dev)).toBe(matmulGemvSpec);
    }
    // Q6_K: any whole number of blocks, odd ones too (rows then start mid-word)
    expect(decodeMatmulSpec({ ...shape('q6_k', 1), K: 2304 }, dev)).toBe(matmulGemvInt8PreSpec);
    for (const w of ['f16', 'q5_0', 'q4_k'] as const) expect(decodeMatmulSpec(shape(w, 1), dev)).toBe(matmulGemvSpec);
    expect(decodeMatmulSpec({ ...shape('q6_k', 1), K: 256 }, { ...dev, features: { ...dev.features, packedDot: false } })).toBe(matmulGemvSpec);
  });
});
