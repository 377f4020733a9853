import { describe, expect, it } from 'vitest';
import { conformanceCases, runConformanceCase } from '../../src/kernels/conformance.js';
import { testGpu } from '../support/gpu.js';

// The product's conformance suite, run by Vitest in Node on the default adapter. The f16 cases
// run where the adapter has `shader-f16` and are reported as skipped (with the reason) elsewhere.
const ctx = await testGpu();
const cases = conformanceCases(ctx.info, { randomShapes: 3, seed: 20261121 });

describe(`kernel conformance on ${ctx.info.vendor} ${ctx.info.device || ctx.info.description}`, () => {
  for (const c of cases) {
    const f16Missing = c.act === 'f16' && !ctx.info.features.f16;
    it.skipIf(f16Missing)(`${c.kernel} ${c.act} ${c.label}`, async () => {
      const r = await runConformanceCase(ctx, c);
      expect(r.error ?? '', `max |err| ${r.maxAbsErr}`).toBe('');
      expect(r.passed).toBe(true);
    });
  }
});
