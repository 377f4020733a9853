import { describe, expect, it } from 'vitest';
import { conformanceCases, runConformanceCase } from '../../src/kernels/conformance.js';
import { testGpu } from '../support/gpu.js';

// The matmul families of the conformance suite (every format x path, awkward shapes, a config
// sweep on one small shape), on the default adapter. f16-activation and tensor-core cases report
// the missing feature and are skipped where the adapter lacks it (SwiftShader lacks both).
const ctx = await testGpu();
const cases = conformanceCases(ctx.info, { randomShapes: 3, seed: 20261121, filter: (id) => id.startsWith('matmul.') });

describe(`matmul conformance on ${ctx.info.vendor} ${ctx.info.device || ctx.info.description}`, () => {
  for (const c of cases) {
    const missing = c.spec.supports(c.shape, ctx.info) as string[];
    it.skipIf(missing.length > 0)(`${c.kernel} ${c.act} ${c.label}`, async () => {
      const r = await runConformanceCase(ctx, c);
      expect(r.error ?? '', `max |err| ${r.maxAbsErr}`).toBe('');
      expect(r.passed).toBe(true);
    });
  }
});
