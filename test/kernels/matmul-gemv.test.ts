import { describe, expect, it } from 'vitest';
import { conformanceCases, runConformanceCase } from '../../src/kernels/conformance.js';
import { chooseMatmul, gemvPairsApply, matmulGemvSpec, type MatmulShape } from '../../src/kernels/matmul.js';
import { testGpu } from '../support/gpu.js';

// The decode-path (GEMV) part of the conformance suite on its own: every fixed and random case
// and every config of the space, both kernels ('split' and 'pairs'), f32 and f16 activations.
const ctx = await testGpu();
const cases = conformanceCases(ctx.info, { randomShapes: 4, seed: 7, filter: (id) => id === 'matmul.gemv' });

describe(`matmul.gemv conformance on ${ctx.info.vendor} ${ctx.info.device || ctx.info.description}`, () => {
  for (const c of cases) {
    const missing = c.spec.supports(c.shape, ctx.info) as string[];
    it.skipIf(missing.length > 0)(`${c.act} ${c.label}`, async () => {
      const r = await runConformanceCase(ctx, c);
      expect(r.error ?? '', `max |err| ${r.maxAbsErr}`).toBe('');
      expect(r.passed).toBe(true);
    });
  }
});

describe('GEMV defaults', () => {
  const shape = (weight: MatmulShape['weight'], M: number, K = 4096): MatmulShape => ({ act: 'f32', weight, M, N: 4096, K, bias: false });
  it('offer the pairs kernel for one row of Q4_0/Q8_0 with an even block count; up to 8 rows of x per pass for several', () => {
    for (const w of ['q4_0', 'q8_0'] as const) {
      expect(gemvPairsApply(shape(w, 1))).toBe(true);
      expect(matmulGemvSpec.space(shape(w, 1), ctx.info).some((c) => c.mode === 'pairs')).toBe(true);
      expect(chooseMatmul(shape(w, 8), ctx.info).config).toMatchObject({ mode: 'split', mb: 8 });
      expect(chooseMatmul(shape(w, 1, 4096 + 32), ctx.info).config).toMatchObject({ mode: 'split' });
    }
    expect(chooseMatmul(shape('q4_k', 1), ctx.info).config).toMatchObject({ mode: 'split' });
    for (const M of [1, 8]) {
      const s = shape('q4_0', M);
      expect(matmulGemvSpec.space(s, ctx.info)).toContainEqual(matmulGemvSpec.defaultConfig(s, ctx.info));
    }
  });
});
