/**
 * Every config of every matmul variant's tunable space against the CPU reference, on a shape
 * large enough that no config is filtered out (the conformance sweep uses small shapes, where
 * tall tiles are left out). Fast on a GPU, far too slow for SwiftShader.
 */
import type { GpuContext } from '../src/gpu/context.js';
import { runConformanceCase, type ConformanceCase } from '../src/kernels/conformance.js';
import { MATMUL_SPECS, type MatmulShape, type MatmulWeightFormat } from '../src/kernels/matmul.js';
import type { AnyKernelSpec } from '../src/kernels/spec.js';

export interface ConfigCheck {
  kernel: string;
  act: string;
  weight: MatmulWeightFormat;
  total: number;
  failed: { config: unknown; error: string }[];
}

export async function checkEveryConfig(ctx: GpuContext): Promise<ConfigCheck[]> {
  const out: ConfigCheck[] = [];
  const acts = ctx.info.features.f16 ? (['f32', 'f16'] as const) : (['f32'] as const);
  for (const [path, spec] of Object.entries(MATMUL_SPECS) as [string, AnyKernelSpec][]) {
    for (const act of acts) {
      for (const weight of ['q4_k', 'f16'] as const) {
        const shape: MatmulShape = { act, weight, M: path === 'gemv' ? 6 : 300, N: 200, K: weight === 'f16' ? 516 : 512, bias: true };
        if ((spec.supports(shape, ctx.info) as string[]).length) continue;
        const row: ConfigCheck = { kernel: spec.id, act, weight, total: 0, failed: [] };
        for (const config of spec.space(shape, ctx.info) as unknown[]) {
          const c: ConformanceCase = { kernel: spec.id, act, label: JSON.stringify(config), spec, shape, config, seed: 99 };
          const r = await runConformanceCase(ctx, c);
          row.total++;
          if (!r.passed) row.failed.push({ config, error: r.error ?? `max |err| ${r.maxAbsErr}` });
        }
        console.log(`  every config: ${spec.id} ${act} ${weight}: ${row.total - row.failed.length}/${row.total} passed`);
        for (const f of row.failed.slice(0, 5)) console.log(`    FAIL ${JSON.stringify(f.config)}: ${f.error}`);
        out.push(row);
      }
    }
  }
  return out;
}
