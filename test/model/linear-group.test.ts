import { describe, expect, it } from 'vitest';
import type { ActDType } from '../../src/core/dtype.js';
import { Rng } from '../../src/core/random.js';
import { readBuffer, uploadBuffer, writeBuffer } from '../../src/gpu/buffers.js';
import { randomAct } from '../../src/kernels/common.js';
import { hostTensorBytes, hostTensorFromBytes, compareTensors } from '../../src/kernels/host-tensors.js';
import { decodeMatmulSpec, matmulGemvInt8PreSpec, matmulGemvInt8Spec, matmulMakeInputs, type MatmulShape } from '../../src/kernels/matmul.js';
import type { HostTensor } from '../../src/kernels/spec.js';
import { defaultConfigs } from '../../src/model/config-source.js';
import { LinearGroup } from '../../src/model/linear.js';
import { testGpu } from '../support/gpu.js';

// A linear role on the int8-dot decode path as the model runs it (LinearGroup: x's quantizer,
// then matmul.gemv-int8-pre), one row of x and several, in turn: each step must quantize its own
// x, so a step after one with other rows reads no stale quantized x. Needs an adapter that routes
// f16 activations to the int8 GEMV (shader-f16 and packed dot products); skipped elsewhere.
const ctx = await testGpu();
const act: ActDType = 'f16';

describe('LinearGroup on the int8 decode path', () => {
  for (const weight of ['q4_0', 'q6_k'] as const) {
    const base: MatmulShape = { act, weight, M: 1, N: 37, K: 512, bias: false };
    const routed = ctx.info.features.f16 && decodeMatmulSpec(base, ctx.info) === matmulGemvInt8PreSpec;
    it.skipIf(!routed)(`${weight}: M = 3, 1, 2 in turn, each against the int8 reference`, async () => {
      const maxM = 4;
      const w = matmulMakeInputs({ ...base, M: maxM }, 5).w!;
      const wBuf = uploadBuffer(ctx, hostTensorBytes(w), 'test:w');
      const xBuf = uploadBuffer(ctx, new Uint8Array(maxM * base.K * 4), 'test:x');
      const yBuf = uploadBuffer(ctx, new Uint8Array(maxM * base.N * 4), 'test:y');
      const linear = { weight: { buffer: wBuf, dtype: weight, shape: [base.N, base.K], byteLength: w.data.byteLength }, format: weight, N: base.N, K: base.K };
      const group = await LinearGroup.create(ctx, act, [{ linear, x: xBuf, y: yBuf }], maxM, defaultConfigs(ctx.info), 'test');
      try {
        const rng = new Rng(9);
        for (const M of [3, 1, 2]) {
          const shape = { ...base, M };
          const x = randomAct(rng, act, [M, base.K]);
          writeBuffer(ctx, xBuf, 0, hostTensorBytes(x));
          group.setM(M);
          const enc = ctx.device.createCommandEncoder();
          const pass = enc.beginComputePass();
          group.encode(pass);
          pass.end();
          ctx.queue.submit([enc.finish()]);
          const like: HostTensor = { dtype: act, shape: [M, base.N], data: new Float32Array(M * base.N) };
          const y = hostTensorFromBytes(await readBuffer(ctx, yBuf, hostTensorBytes(like).byteLength), like);
          const ref = matmulGemvInt8Spec.reference({ x, w }, shape).y!;
          const cmp = compareTensors(y.data, ref.data, matmulGemvInt8Spec.tolerance(shape));
          expect(cmp.ok, `M = ${M}: ${cmp.firstBad ? `y[${cmp.firstBad.index}] = ${cmp.firstBad.got}, want ${cmp.firstBad.want}` : ''}`).toBe(true);
        }
      } finally {
        group.destroy();
        for (const b of [wBuf, xBuf, yBuf]) b.destroy();
      }
    });
  }
});
