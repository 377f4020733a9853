import { describe, expect, it } from 'vitest';
import { acquireGpu } from '../../src/gpu/acquire.js';
import { conformanceCases, runConformanceCase } from '../../src/kernels/conformance.js';
import { createBrowserPlatform } from '../../src/platform/browser/index.js';

// The same conformance suite as test/kernels/conformance.test.ts, inside Chromium's WebGPU
// (SwiftShader here), so browser/Node parity is tested rather than assumed. Same seed, same cases.
const ctx = await acquireGpu(createBrowserPlatform());
const cases = conformanceCases(ctx.info, { randomShapes: 3, seed: 20261121 });

describe(`kernel conformance in the browser on ${ctx.info.vendor} ${ctx.info.architecture}`, () => {
  it('runs in a browser runtime', () => {
    expect(ctx.info.runtime).not.toMatch(/dawn-node/);
    expect(cases.length).toBeGreaterThan(50);
  });
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
