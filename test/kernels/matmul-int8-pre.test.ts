import { describe, expect, it } from 'vitest';
import { packRowsQ8 } from '../../src/core/reference/matmul.js';
import { compareTensors } from '../../src/kernels/host-tensors.js';
import { runKernel } from '../../src/kernels/harness.js';
import { matmulGemvInt8PreSpec, matmulGemvInt8Spec, matmulQuantizeXSpec, type MatmulShape } from '../../src/kernels/matmul.js';
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
];

describe(`quantize-x then gemv-int8-pre on ${ctx.info.vendor} ${ctx.info.device || ctx.info.description}`, () => {
  for (const shape of SHAPES) {
    const missing = matmulGemvInt8PreSpec.supports(shape, ctx.info);
    it.skipIf(missing.length > 0)(`${shape.weight} ${shape.M}x${shape.N}x${shape.K}`, async () => {
      const inputs = matmulGemvInt8PreSpec.makeInputs(shape, 11);
      const q = await runKernel(ctx, matmulQuantizeXSpec, shape, matmulQuantizeXSpec.defaultConfig(shape, ctx.info), matmulQuantizeXSpec.makeInputs(shape, 11));
      // the quantizer against the CPU's packing: bytes equal but for rare ties (off by one)
      const want = packRowsQ8(inputs.x!.data as Float32Array, shape.M, shape.K, shape.weight as 'q4_0' | 'q8_0');
      const gotBytes = new Int8Array((q.xq!.data as Uint32Array).buffer);
      const wantBytes = new Int8Array(want.xq.buffer);
      let off = 0;
      for (let i = 0; i < wantBytes.length; i++) {
        if (gotBytes[i] !== wantBytes[i]) {
          off++;
          expect(Math.abs(gotBytes[i]! - wantBytes[i]!)).toBe(1);
        }
      }
      expect(off).toBeLessThanOrEqual(Math.max(2, wantBytes.length * 1e-3));
      // the steps d (f32 bits at 4i, 4i + 1): max|x| / 127, within the GPU's division error
      const gotXs = new Float32Array((q.xs!.data as Uint32Array).buffer);
      const wantXs = new Float32Array(want.xs.buffer);
      for (let i = 0; i < wantXs.length; i += 4) {
        for (const j of [i, i + 1]) expect(Math.abs(gotXs[j]! - wantXs[j]!)).toBeLessThanOrEqual(4e-7 * Math.abs(wantXs[j]!));
      }
      // the GEMV on the GPU's words, within the in-kernel GEMV's tolerance (which allows ties)
      const y = await runKernel(ctx, matmulGemvInt8PreSpec, shape, matmulGemvInt8PreSpec.defaultConfig(shape, ctx.info), { ...inputs, xq: q.xq!, xs: q.xs! });
      const ref = matmulGemvInt8Spec.reference(inputs, shape);
      const cmp = compareTensors(y.y!.data, ref.y!.data, matmulGemvInt8Spec.tolerance(shape));
      expect(cmp.ok, cmp.firstBad ? `y[${cmp.firstBad.index}] = ${cmp.firstBad.got}, want ${cmp.firstBad.want}` : '').toBe(true);
    });
  }
});
