import { describe, expect, it } from 'vitest';
import { conformanceCases, runConformanceCase } from '../../src/kernels/conformance.js';
import { testGpu } from '../support/gpu.js';

// The product's conformance suite (every kernel family: elementwise, matmul, attention, sampling),
// run by Vitest in Node on the default adapter.
const ctx = await testGpu();
const cases = conformanceCases(ctx.info, { randomShapes: 3, seed: 20261121 });

describe(`kernel conformance on ${ctx.info.vendor} ${ctx.info.device || ctx.info.description}`, () => {
  for (const c of cases) {
    // Cases this adapter cannot run (f16 without shader-f16, tensor cores without subgroup-matrix)
    // are reported as skipped, with the kernel's reason in the name, rather than passing vacuously.
    const missing = c.spec.supports(c.shape, ctx.info) as string[];
    it.skipIf(missing.length > 0)(`${c.kernel} ${c.act} ${c.label}`, async () => {
      const r = await runConformanceCase(ctx, c);
      expect(r.error ?? '', `max |err| ${r.maxAbsErr}`).toBe('');
      expect(r.passed).toBe(true);
    });
  }
});
