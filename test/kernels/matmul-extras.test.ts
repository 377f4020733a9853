import { describe, expect, it } from 'vitest';
import type { QuantDType } from '../../src/core/dtype.js';
import { bf16BitsToF32, f16BitsToF32, roundAs } from '../../src/core/dtype.js';
import { Rng } from '../../src/core/random.js';
import { dequantize, quantize } from '../../src/core/reference/dequant.js';
import { embeddingRef } from '../../src/core/reference/elementwise.js';
import { embeddingSpec, type EmbeddingShape } from '../../src/kernels/embedding.js';
import { runKernel } from '../../src/kernels/harness.js';
import { KernelGroup } from '../../src/kernels/launch.js';
import { createBuffer, readBuffer, writeBuffer } from '../../src/gpu/buffers.js';
import { addSpec } from '../../src/kernels/add.js';
import { WgllmError } from '../../src/core/errors.js';
import { compareTensors } from '../../src/kernels/host-tensors.js';
import {
  bf16ToF16,
  bf16ToF32,
  chooseMatmul,
  chooseMatmulPath,
  matmulGemmSpec,
  matmulGemvInt8PreSpec,
  matmulGemvSpec,
  matmulTensorSpec,
  type MatmulShape,
} from '../../src/kernels/matmul.js';
import type { DeviceInfo } from '../../src/gpu/device-info.js';
import type { HostTensors, KernelSpec } from '../../src/kernels/spec.js';
import { composeWgsl } from '../../src/kernels/wgsl.js';
import embeddingSource from '../../shaders/embedding.wgsl?raw';
import weightsQ8_0 from '../../shaders/lib/weights-q8_0.wgsl?raw';
import weightsQ4_0 from '../../shaders/lib/weights-q4_0.wgsl?raw';
import weightsQ5_0 from '../../shaders/lib/weights-q5_0.wgsl?raw';
import weightsQ4K from '../../shaders/lib/weights-q4_k.wgsl?raw';
import weightsQ6K from '../../shaders/lib/weights-q6_k.wgsl?raw';
import { testGpu } from '../support/gpu.js';

const ctx = await testGpu();

// ---- quantized embedding tables: shaders/lib/weights-<format>.wgsl through embedding.wgsl ----

const WEIGHT_LIBS: Record<QuantDType, string> = { q8_0: weightsQ8_0, q4_0: weightsQ4_0, q5_0: weightsQ5_0, q4_k: weightsQ4K, q6_k: weightsQ6K };
type QuantEmbeddingShape = Omit<EmbeddingShape, 'table'> & { table: QuantDType };

/** embeddingSpec with a quantized table: what the lead registers in embedding.ts. */
const quantEmbeddingSpec: KernelSpec<QuantEmbeddingShape, { wg: number }> = {
  ...(embeddingSpec as unknown as KernelSpec<QuantEmbeddingShape, { wg: number }>),
  build(shape, cfg) {
    return {
      source: composeWgsl(embeddingSource, { act: shape.act, uniforms: embeddingSpec.uniforms, libs: [WEIGHT_LIBS[shape.table]] }),
      entryPoint: 'main',
      constants: { WG: cfg.wg },
    };
  },
  makeInputs(shape, seed): HostTensors {
    const rng = new Rng(seed);
    const ids = new Uint32Array(shape.numTokens); // [numTokens] u32
    for (let t = 0; t < shape.numTokens; t++) ids[t] = t === 0 ? shape.vocabSize + 3 : rng.int(0, shape.vocabSize - 1);
    const values = rng.floats(shape.vocabSize * shape.hiddenSize, -2, 2);
    return {
      ids: { dtype: 'u32', shape: [shape.numTokens], data: ids },
      weights: { dtype: 'bytes', shape: [shape.vocabSize, shape.hiddenSize], data: quantize(shape.table, values) },
      out: { dtype: shape.act, shape: [shape.numTokens, shape.hiddenSize], data: new Float32Array(shape.numTokens * shape.hiddenSize) },
    };
  },
  reference(inputs, shape): HostTensors {
    const table = dequantize(shape.table, inputs.weights!.data as Uint8Array, shape.vocabSize * shape.hiddenSize);
    const data = embeddingRef(table, inputs.ids!.data as Uint32Array, shape.vocabSize, shape.hiddenSize, roundAs(shape.act));
    return { out: { dtype: shape.act, shape: [shape.numTokens, shape.hiddenSize], data } };
  },
};

describe('quantized embedding tables (weights-<format>.wgsl)', () => {
  for (const table of ['q8_0', 'q4_0', 'q5_0', 'q4_k', 'q6_k'] as const) {
    // hiddenSize 64 is not a whole number of 256-blocks per row: rows straddle blocks, as the
    // flat element index allows; the table as a whole is whole blocks.
    const hiddenSize = table === 'q4_k' || table === 'q6_k' ? 64 : 96;
    it(`${table} table, rows of ${hiddenSize}`, async () => {
      const shape: QuantEmbeddingShape = { act: 'f32', table, numTokens: 9, hiddenSize, vocabSize: 16 };
      const inputs = quantEmbeddingSpec.makeInputs(shape, 7);
      const want = quantEmbeddingSpec.reference(inputs, shape);
      const got = await runKernel(ctx, quantEmbeddingSpec, shape, { wg: 64 }, inputs);
      const cmp = compareTensors(got.out!.data, want.out!.data, { atol: 1e-6, rtol: 1e-6 });
      expect(cmp.firstBad, `max |err| ${cmp.maxAbsErr}`).toBeUndefined();
    });
  }
});

// ---- bf16 at load ----

describe('bf16 conversion', () => {
  it('converts exactly where f16 can hold the value, rounds to nearest even, saturates beyond', () => {
    const rng = new Rng(3);
    const bits = new Uint16Array(5000);
    for (let i = 0; i < bits.length; i++) bits[i] = rng.int(0, 0xffff);
    bits.set([0x0000, 0x8000, 0x3f80, 0x477f /* 65280 */, 0x4780 /* 65536 */, 0xc780, 0x7f80 /* inf */, 0x3380 /* 2^-24 */], 0);
    const f32 = bf16ToF32(bits);
    const { data, saturated } = bf16ToF16(bits);
    let expectSaturated = 0;
    for (let i = 0; i < bits.length; i++) {
      const v = bf16BitsToF32(bits[i]!);
      expect(f32[i]).toBe(v);
      const h = f16BitsToF32(data[i]!);
      if (Number.isNaN(v)) expect(Number.isNaN(h)).toBe(true);
      else if (!Number.isFinite(v)) expect(h).toBe(v);
      else if (Math.abs(v) > 65504) {
        expectSaturated++;
        expect(Math.abs(h)).toBe(65504);
      } else if (Math.abs(v) >= 2 ** -14) expect(h).toBe(v); // normal f16: bf16's 8 bits fit in 11
      else expect(Math.abs(h - v)).toBeLessThanOrEqual(2 ** -25); // subnormal: half a unit
    }
    expect(saturated).toBe(expectSaturated);
    expect(saturated).toBeGreaterThan(0);
  });
});

// ---- the chooser ----

describe('chooseMatmul', () => {
  const shape = (M: number): MatmulShape => ({ act: 'f32', weight: 'q4_0', M, N: 4096, K: 4096, bias: false });
  it('takes the GEMV for decode and a GEMM for prefill, with configs from their spaces', () => {
    expect(chooseMatmulPath(shape(1), ctx.info)).toBe('gemv');
    expect(chooseMatmulPath(shape(8), ctx.info)).toBe('gemv');
    // f32 activations never take the f16 tensor cores (they would round x to f16)
    expect(chooseMatmul(shape(512), ctx.info).path).toBe('gemm');
    const f16 = { ...shape(512), act: 'f16' } as const;
    if (ctx.info.features.f16) expect(chooseMatmulPath(f16, ctx.info)).toBe(ctx.info.features.subgroupMatrix ? 'tensor' : 'gemm');
    const gemv = chooseMatmul(shape(1), ctx.info);
    expect(gemv.path).toBe('gemv');
    expect(matmulGemvSpec.space(shape(1), ctx.info)).toContainEqual(gemv.config);
    const gemm = matmulGemmSpec.defaultConfig(shape(512), ctx.info);
    expect(matmulGemmSpec.space(shape(512), ctx.info)).toContainEqual(gemm);
  });
  it('refuses K that is not whole blocks', () => {
    expect(matmulGemvSpec.supports({ ...shape(1), K: 100 }, ctx.info).join()).toMatch(/multiple of 32/);
    expect(matmulGemmSpec.supports({ ...shape(1), weight: 'q6_k', K: 512 + 32 }, ctx.info).join()).toMatch(/multiple of 256/);
  });
});

// ---- the SwiGLU epilogue (MatmulShape.glu): which configs may run it ----

describe('SwiGLU epilogue configs', () => {
  // An adapter with subgroup matrices as the H200 reports them (its kernels run on the GPU
  // machine's conformance suite; here only the choice of configs is checked).
  const tensorDev: DeviceInfo = {
    ...ctx.info,
    features: { ...ctx.info.features, f16: true, subgroups: true, subgroupMatrix: true },
    subgroupMinSize: 32,
    subgroupMaxSize: 32,
    subgroupMatrixConfigs: [{ componentType: 'f16', resultComponentType: 'f32', M: 16, N: 16, K: 16 }],
    limits: { ...ctx.info.limits, maxComputeWorkgroupStorageSize: 49152, maxComputeInvocationsPerWorkgroup: 1024, maxComputeWorkgroupSizeX: 1024 },
  };
  const gateUp = (M: number): MatmulShape => ({ act: 'f16', weight: 'q4_0', M, N: 28672, K: 4096, bias: false, glu: true });
  it('is matmul.tensor\'s only, without bias, over an even number of rows', () => {
    for (const spec of [matmulGemvSpec, matmulGemmSpec, matmulGemvInt8PreSpec]) {
      expect(spec.supports(gateUp(1), tensorDev).join()).toMatch(/glu.*matmul\.tensor/);
    }
    expect(matmulTensorSpec.supports(gateUp(512), tensorDev)).toEqual([]);
    expect(matmulTensorSpec.supports({ ...gateUp(512), N: 28671 }, tensorDev).join()).toMatch(/N even/);
    expect(matmulTensorSpec.supports({ ...gateUp(512), bias: true }, tensorDev).join()).toMatch(/no bias/);
  });
  it('pairs each subgroup\'s result tiles and never splits K, in the space and the defaults', () => {
    for (const M of [64, 128, 256, 512, 4096]) {
      const space = matmulTensorSpec.space(gateUp(M), tensorDev);
      expect(space.length).toBeGreaterThan(0);
      for (const c of space) expect([c.tj % 2, c.splitK ?? 1]).toEqual([0, 1]);
      const d = matmulTensorSpec.defaultConfig(gateUp(M), tensorDev);
      expect([d.tj % 2, d.splitK ?? 1]).toEqual([0, 1]);
    }
    // where the plain product's default splits K (few tiles), the epilogue's does not
    const narrow: MatmulShape = { act: 'f16', weight: 'q4_0', M: 64, N: 2048, K: 4096, bias: false };
    expect(matmulTensorSpec.defaultConfig(narrow, tensorDev).splitK ?? 1).toBeGreaterThan(1);
    expect(matmulTensorSpec.defaultConfig({ ...narrow, glu: true }, tensorDev).splitK ?? 1).toBe(1);
  });
});

// ---- split-K: the launcher's scratch ----

describe('split-K scratch', () => {
  it('is allocated for the shape a group is built for; a larger M is refused, a smaller one runs', async () => {
    const shape: MatmulShape = { act: 'f32', weight: 'f32', M: 64, N: 40, K: 1024, bias: false };
    const cfg = { ...matmulGemmSpec.defaultConfig(shape, ctx.info), splitK: 4 };
    expect(matmulGemmSpec.scratchBytes!(shape, cfg)).toEqual({ part: 4 * 64 * 40 * 4 });
    const x = createBuffer(ctx, 128 * 1024 * 4, 'test:x');
    const w = createBuffer(ctx, 40 * 1024 * 4, 'test:w');
    const y = createBuffer(ctx, 128 * 40 * 4, 'test:y');
    const group = await KernelGroup.create(ctx, matmulGemmSpec, shape, cfg, [{ x, w, y }]);
    try {
      expect(() => group.setShape({ ...shape, M: 128 })).toThrow(WgllmError);
      expect(() => group.setShape({ ...shape, M: 128 })).toThrow(/needs 81920 bytes of 'part'.*built for 40960/);
      expect(() => group.setShape({ ...shape, M: 17 })).not.toThrow();
    } finally {
      group.destroy();
      for (const b of [x, w, y]) b.destroy();
    }
  });
});

// ---- KernelGroup: a shape whose uniforms did not change writes nothing ----

describe('KernelGroup uniforms', () => {
  it('are written when the shape changes, and only then; each shape runs at its own size', async () => {
    const a = createBuffer(ctx, 64 * 4, 'test:a');
    const b = createBuffer(ctx, 64 * 4, 'test:b');
    const out = createBuffer(ctx, 64 * 4, 'test:out');
    writeBuffer(ctx, a, 0, Float32Array.from({ length: 64 }, (_, i) => i));
    writeBuffer(ctx, b, 0, new Float32Array(64).fill(1000));
    const group = await KernelGroup.create(ctx, addSpec, { act: 'f32', n: 8 }, addSpec.defaultConfig({ act: 'f32', n: 8 }, ctx.info), [{ a, b, out }]);
    const queue = ctx.queue;
    const write = queue.writeBuffer.bind(queue);
    let writes = 0;
    queue.writeBuffer = ((...args: Parameters<GPUQueue['writeBuffer']>) => {
      writes++;
      write(...args);
    }) as GPUQueue['writeBuffer'];
    const run = async (n: number) => {
      writeBuffer(ctx, out, 0, new Float32Array(64)); // (counted: one write)
      group.setShape({ act: 'f32', n });
      const enc = ctx.device.createCommandEncoder();
      const pass = enc.beginComputePass();
      group.encode(pass);
      pass.end();
      queue.submit([enc.finish()]);
      return new Float32Array(await readBuffer(ctx, out));
    };
    try {
      const expectSum = (got: Float32Array, n: number) => expect(Array.from(got.subarray(0, n + 1))).toEqual([...Array.from({ length: n }, (_, i) => i + 1000), 0]);
      writes = 0;
      expectSum(await run(8), 8); // the size it was built with: no uniform write
      expect(writes).toBe(1);
      writes = 0;
      expectSum(await run(20), 20);
      expect(writes).toBe(2);
      writes = 0;
      expectSum(await run(20), 20);
      expect(writes).toBe(1);
      writes = 0;
      expectSum(await run(8), 8);
      expect(writes).toBe(2);
    } finally {
      queue.writeBuffer = write;
      group.destroy();
      for (const x of [a, b, out]) x.destroy();
    }
  });
});
