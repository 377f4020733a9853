import type { ActDType } from '../core/dtype.js';
import { Rng } from '../core/random.js';
import type { GpuContext } from '../gpu/context.js';
import type { DeviceInfo } from '../gpu/device-info.js';
import { addSpec } from './add.js';
import { ATTENTION_FAMILIES } from './attention-conformance.js';
import { embeddingSpec, type EmbeddingShape } from './embedding.js';
import type { ConformanceFamily, CrossCheck } from './conformance-family.js';
import { checkOutputs, runKernel } from './harness.js';
import { MATMUL_DEQUANT_FAMILY, MATMUL_FAMILIES } from './matmul-conformance.js';
import { QUANT_X_FAMILIES } from './quant-x-conformance.js';
import { SAMPLING_FAMILIES } from './sampling-conformance.js';
import { rmsnormSpec, type RmsnormShape } from './rmsnorm.js';
import { ropeSpec, type RopeShape } from './rope.js';
import type { AnyKernelSpec } from './spec.js';
import { swigluSpec, type SwigluShape } from './swiglu.js';

/**
 * The kernel conformance suite: every kernel against its CPU reference on random shapes plus
 * awkward fixed ones (sizes not divisible by 4 or by the workgroup size, 1-element dims, dims
 * large enough to need a 2-D grid), for each activation dtype, and every tunable config on one
 * small shape per kernel. Vitest runs it (Node and Chromium) and `wgllm selftest` runs it on
 * the user's adapter.
 */
export interface ConformanceCase {
  kernel: string;
  act: ActDType;
  label: string;
  spec: AnyKernelSpec;
  shape: unknown;
  /** undefined: the spec's default config for this device */
  config?: unknown;
  seed: number;
  /** the family's crossCheck */
  crossCheck?: CrossCheck;
}


export interface ConformanceResult {
  case: ConformanceCase;
  passed: boolean;
  /** set when the case could not run here (missing feature); not a failure */
  skipped?: string;
  maxAbsErr: number;
  worstRatio: number;
  error?: string;
  ms: number;
}

export interface ConformanceOptions {
  acts?: ActDType[];
  /** random shapes per kernel and dtype */
  randomShapes?: number;
  seed?: number;
  /** also run every config of each kernel's space on one small shape */
  sweepConfigs?: boolean;
  /** only kernels whose id matches */
  filter?: (kernelId: string) => boolean;
}


const rms = (act: ActDType, numRows: number, rowLen: number, residual: boolean): RmsnormShape => ({
  act,
  mode: residual ? 'residual' : 'plain',
  numRows,
  rowLen,
  eps: 1e-5,
});
/** per-head norm of the first `heads` heads of token rows `extra` elements wider */
const rmsHeads = (act: ActDType, numTokens: number, heads: number, headDim: number, extra: number, headOffset = 0): RmsnormShape => ({
  act,
  mode: 'heads',
  numRows: numTokens * heads,
  rowLen: headDim,
  eps: 1e-6,
  headsPerToken: heads,
  tokenStride: heads * headDim + extra,
  headOffset,
});
const rope = (act: ActDType, style: RopeShape['style'], numTokens: number, numHeads: number, headDim: number, rotaryDim = headDim, extra = 0): RopeShape => ({
  act,
  style,
  numTokens,
  numHeads,
  headDim,
  rotaryDim,
  tokenStride: numHeads * headDim + extra,
  numPositions: 4096,
});
const swiglu = (act: ActDType, numTokens: number, intermediateSize: number, fused = true): SwigluShape => ({ act, numTokens, intermediateSize, fused });
const embed = (act: ActDType, table: EmbeddingShape['table'], numTokens: number, hiddenSize: number, vocabSize: number): EmbeddingShape => ({
  act,
  table,
  numTokens,
  hiddenSize,
  vocabSize,
});

export const FAMILIES: ConformanceFamily[] = [
  {
    spec: rmsnormSpec,
    fixed: (act) => [
      { label: '1x1', shape: rms(act, 1, 1, false) },
      { label: '57x1001', shape: rms(act, 57, 1001, false) },
      { label: '3x4096', shape: rms(act, 3, 4096, false) },
      { label: 'residual 57x1001', shape: rms(act, 57, 1001, true) },
      { label: 'residual 1x7', shape: rms(act, 1, 7, true) },
      { label: 'rows 70001x3 (2-D grid)', shape: rms(act, 70001, 3, false) },
      { label: 'heads 7 tokens x 4 heads x 32 in stride 192', shape: rmsHeads(act, 7, 4, 32, 64) },
      { label: 'heads 3 tokens x 5 heads x 128 in stride 645', shape: rmsHeads(act, 3, 5, 128, 5) },
      { label: 'heads at offset 96: 4 tokens x 2 heads x 32 in stride 160', shape: rmsHeads(act, 4, 2, 32, 96, 96) },
    ],
    random: (act, rng) =>
      rng.next() < 0.25
        ? rmsHeads(act, rng.int(1, 20), rng.int(1, 8), rng.int(1, 200), rng.int(0, 300), rng.int(0, 50))
        : rms(act, rng.int(1, 40), rng.int(1, 3000), rng.next() < 0.5),
    small: (act) => rms(act, 5, 333, true),
  },
  {
    spec: ropeSpec,
    fixed: (act) => [
      { label: 'normal 1x1x2', shape: rope(act, 'normal', 1, 1, 2) },
      { label: 'neox 13x7x64', shape: rope(act, 'neox', 13, 7, 64) },
      { label: 'normal 5x3x128 partial 64, strided', shape: rope(act, 'normal', 5, 3, 128, 64, 37) },
      { label: 'neox 3x9x80 partial 30', shape: rope(act, 'neox', 3, 9, 80, 30, 5) },
      { label: 'neox 2049x2x32 (2-D grid)', shape: rope(act, 'neox', 2049, 2, 32) },
    ],
    random: (act, rng) => {
      const headDim = 2 * rng.int(1, 80);
      return rope(act, rng.pick(['normal', 'neox'] as const), rng.int(1, 40), rng.int(1, 12), headDim, 2 * rng.int(1, headDim / 2), rng.int(0, 9));
    },
    small: (act) => rope(act, 'neox', 7, 3, 64),
  },
  {
    spec: swigluSpec,
    fixed: (act) => [
      { label: '1x1', shape: swiglu(act, 1, 1) },
      { label: '57x1001', shape: swiglu(act, 57, 1001) },
      { label: '3x14336', shape: swiglu(act, 3, 14336) },
      { label: 'separate gate/up 5x999', shape: swiglu(act, 5, 999, false) },
      // four outputs per invocation (intermediateSize % 4 == 0)
      { label: '33x1028 (by quads)', shape: swiglu(act, 33, 1028) },
      { label: 'separate gate/up 7x64 (by quads)', shape: swiglu(act, 7, 64, false) },
    ],
    random: (act, rng) => swiglu(act, rng.int(1, 40), rng.int(1, 3000), rng.next() < 0.7),
    small: (act) => swiglu(act, 3, 333),
  },
  {
    spec: addSpec,
    fixed: (act) => [
      { label: 'n=1', shape: { act, n: 1 } },
      { label: 'n=1001', shape: { act, n: 1001 } },
      { label: 'n=16777217 (2-D grid)', shape: { act, n: 16_777_217 } },
    ],
    random: (act, rng) => ({ act, n: rng.int(1, 100_000) }),
    small: (act) => ({ act, n: 999 }),
  },
  {
    spec: embeddingSpec,
    fixed: (act) => [
      { label: 'f32 table 1x1 vocab 1', shape: embed(act, 'f32', 1, 1, 1) },
      { label: 'f32 table 57x1001', shape: embed(act, 'f32', 57, 1001, 77) },
      { label: 'f16 table 57x1001', shape: embed(act, 'f16', 57, 1001, 77) },
      { label: 'f16 table odd 5x3', shape: embed(act, 'f16', 5, 3, 11) },
      { label: 'q8_0 table 9x64', shape: embed(act, 'q8_0', 9, 64, 13) },
      { label: 'q4_0 table 9x96', shape: embed(act, 'q4_0', 9, 96, 13) },
      { label: 'q5_0 table 9x32', shape: embed(act, 'q5_0', 9, 32, 13) },
      { label: 'q4_k table 9x256', shape: embed(act, 'q4_k', 9, 256, 7) },
      { label: 'q6_k table 9x512', shape: embed(act, 'q6_k', 9, 512, 5) },
    ],
    random: (act, rng) => embed(act, rng.pick(['f32', 'f16'] as const), rng.int(1, 40), rng.int(1, 2000), rng.int(1, 500)),
    small: (act) => embed(act, 'f16', 3, 65, 9),
  },
  ...MATMUL_FAMILIES,
  ...SAMPLING_FAMILIES,
  ...ATTENTION_FAMILIES,
  // last: the families before keep the random shapes and seeds they had
  ...QUANT_X_FAMILIES,
  MATMUL_DEQUANT_FAMILY as ConformanceFamily,
];

export function conformanceCases(dev: DeviceInfo, opts: ConformanceOptions = {}): ConformanceCase[] {
  const acts = opts.acts ?? ['f32', 'f16'];
  const seed = opts.seed ?? 1234;
  const rng = new Rng(seed);
  const configuredRng = new Rng(seed + 1);
  const cases: ConformanceCase[] = [];
  for (const fam of FAMILIES) {
    if (opts.filter && !opts.filter(fam.spec.id)) continue;
    for (const act of acts) {
      const base = { kernel: fam.spec.id, act, spec: fam.spec, ...(fam.crossCheck ? { crossCheck: fam.crossCheck } : {}) };
      for (const f of fam.fixed(act)) cases.push({ ...base, label: f.label, shape: f.shape, seed: rng.int(0, 2 ** 31) });
      // seeds of their own: the shared stream (and so every later family's shapes) stays as it was
      for (const f of fam.configured?.(act, dev) ?? []) cases.push({ ...base, label: f.label, shape: f.shape, config: f.config, seed: configuredRng.int(0, 2 ** 31) });
      for (let i = 0; i < (opts.randomShapes ?? 3); i++) {
        const shape = fam.random(act, rng);
        cases.push({ ...base, label: `random ${JSON.stringify(shape)}`, shape, seed: rng.int(0, 2 ** 31) });
      }
      if (opts.sweepConfigs ?? true) {
        const small = fam.small(act);
        if (fam.spec.supports(small, dev).length === 0) {
          for (const config of fam.spec.space(small, dev)) {
            cases.push({ ...base, label: `config ${JSON.stringify(config)}`, shape: small, config, seed: rng.int(0, 2 ** 31) });
          }
        }
      }
    }
  }
  return cases;
}

export async function runConformanceCase(ctx: GpuContext, c: ConformanceCase): Promise<ConformanceResult> {
  const t0 = performance.now();
  const reasons = c.spec.supports(c.shape, ctx.info);
  if (reasons.length) return { case: c, passed: true, skipped: reasons.join('; '), maxAbsErr: 0, worstRatio: 0, ms: 0 };
  try {
    const config = c.config ?? c.spec.defaultConfig(c.shape, ctx.info);
    const inputs = c.spec.makeInputs(c.shape, c.seed);
    const want = c.spec.reference(inputs, c.shape);
    const got = await runKernel(ctx, c.spec, c.shape, config, inputs);
    const r = checkOutputs(c.spec, c.shape, got, want);
    const error = r.error ?? (c.crossCheck ? await c.crossCheck(ctx, got, c.shape) : undefined);
    const passed = error === undefined;
    const { maxAbsErr, worstRatio } = r;
    return { case: c, passed, maxAbsErr, worstRatio, ...(error ? { error } : {}), ms: performance.now() - t0 };
  } catch (e) {
    return { case: c, passed: false, maxAbsErr: Infinity, worstRatio: Infinity, error: String((e as Error).message ?? e), ms: performance.now() - t0 };
  }
}

export async function runConformance(
  ctx: GpuContext,
  cases: ConformanceCase[],
  onResult?: (r: ConformanceResult, index: number, total: number) => void,
): Promise<ConformanceResult[]> {
  const results: ConformanceResult[] = [];
  for (const c of cases) {
    const r = await runConformanceCase(ctx, c);
    results.push(r);
    onResult?.(r, results.length, cases.length);
  }
  return results;
}

/** Pass/fail counts per kernel and dtype path, for the selftest's table. */
export function summarize(results: ConformanceResult[]): { kernel: string; act: ActDType; passed: number; failed: number; skipped: number; maxAbsErr: number }[] {
  const rows = new Map<string, { kernel: string; act: ActDType; passed: number; failed: number; skipped: number; maxAbsErr: number }>();
  for (const r of results) {
    const key = `${r.case.kernel}|${r.case.act}`;
    const row = rows.get(key) ?? { kernel: r.case.kernel, act: r.case.act, passed: 0, failed: 0, skipped: 0, maxAbsErr: 0 };
    if (r.skipped) row.skipped++;
    else if (r.passed) row.passed++;
    else row.failed++;
    if (!r.skipped && Number.isFinite(r.maxAbsErr)) row.maxAbsErr = Math.max(row.maxAbsErr, r.maxAbsErr);
    if (!r.skipped && !Number.isFinite(r.maxAbsErr)) row.maxAbsErr = Infinity;
    rows.set(key, row);
  }
  return [...rows.values()];
}
