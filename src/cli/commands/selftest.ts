import { writeFile } from 'node:fs/promises';
import type { ActDType } from '../../core/dtype.js';
import { conformanceCases, runConformance, summarize, type ConformanceResult } from '../../kernels/conformance.js';
import { GPU_OPTIONS, GPU_OPTIONS_HELP, parse, UsageError } from '../args.js';
import { openGpu } from '../gpu.js';
import { formatDeviceInfo } from './info.js';

export const SELFTEST_HELP = `wgllm selftest: run every kernel against its CPU reference on this adapter

Usage: wgllm selftest [options] [GPU options]

  --path f32|f16|all    activation paths to test (default: all the adapter supports)
  --kernel ID           only kernels whose id contains ID (repeatable)
  --case TEXT           only cases whose label contains TEXT (e.g. q4_0, or config for the sweep)
  --random N            random shapes per kernel and path (default 3)
  --seed N              seed for shapes and data (default 1234)
  --all-configs         also run every config of each kernel's tuning space on one small shape
  --json FILE           also write every case's result as JSON
  --verbose             print every case, not only failures
${GPU_OPTIONS_HELP}

Exit status: 0 if every case that can run here passed, 1 otherwise.`;

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

export function formatSummary(results: ConformanceResult[]): string {
  const rows = summarize(results);
  const lines = [`${pad('kernel', 22)}${pad('path', 6)}${pad('passed', 8)}${pad('failed', 8)}${pad('skipped', 9)}max |err|`];
  for (const r of rows) {
    const status = r.failed ? 'FAIL' : r.passed ? 'ok' : 'skipped';
    lines.push(
      `${pad(r.kernel, 22)}${pad(r.act, 6)}${pad(String(r.passed), 8)}${pad(String(r.failed), 8)}${pad(String(r.skipped), 9)}` +
        `${r.passed + r.failed ? r.maxAbsErr.toExponential(2) : '-'}  ${status}`,
    );
  }
  return lines.join('\n');
}

export async function selftestCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    ...GPU_OPTIONS,
    path: { type: 'string' },
    kernel: { type: 'string', multiple: true },
    case: { type: 'string' },
    random: { type: 'string' },
    seed: { type: 'string' },
    'all-configs': { type: 'boolean' },
    json: { type: 'string' },
    verbose: { type: 'boolean' },
  });
  if (values.help) {
    console.log(SELFTEST_HELP);
    return 0;
  }
  const path = values.path ?? 'all';
  if (!['f32', 'f16', 'all'].includes(path)) throw new UsageError(`--path must be f32, f16 or all, not '${path}'`);
  const randomShapes = values.random === undefined ? 3 : Number(values.random);
  const seed = values.seed === undefined ? 1234 : Number(values.seed);
  if (!Number.isInteger(randomShapes) || randomShapes < 0) throw new UsageError('--random must be a whole number >= 0');
  if (!Number.isInteger(seed)) throw new UsageError('--seed must be an integer');

  const ctx = await openGpu(values);
  try {
    console.log(formatDeviceInfo(ctx.info).split('\n').slice(0, 9).join('\n'));
    let acts: ActDType[] = path === 'all' ? ['f32', 'f16'] : [path as ActDType];
    if (!ctx.info.features.f16 && acts.includes('f16')) {
      console.log(
        path === 'f16'
          ? "error: the f16 path needs 'shader-f16', which this adapter does not offer"
          : "note: f16 path skipped: this adapter does not offer 'shader-f16' (the f32 path serves every model)",
      );
      if (path === 'f16') return 1;
      acts = acts.filter((a) => a !== 'f16');
    }
    const filters = values.kernel ?? [];
    const caseText = values.case;
    const cases = conformanceCases(ctx.info, {
      acts,
      randomShapes,
      seed,
      sweepConfigs: values['all-configs'] ?? false,
      ...(filters.length ? { filter: (id: string) => filters.some((f) => id.includes(f)) } : {}),
    }).filter((c) => caseText === undefined || c.label.includes(caseText));
    console.log(`\nrunning ${cases.length} kernel cases...`);
    const t0 = performance.now();
    const results = await runConformance(ctx, cases, (r) => {
      if (!r.passed || values.verbose) {
        const c = r.case;
        const what = r.skipped ? `skipped (${r.skipped})` : r.passed ? `ok  max|err| ${r.maxAbsErr.toExponential(2)}` : `FAIL ${r.error}`;
        console.log(`  ${c.kernel} ${c.act} ${c.label}: ${what}`);
      }
    });
    console.log(`\n${formatSummary(results)}`);
    const failed = results.filter((r) => !r.passed).length;
    const ran = results.filter((r) => !r.skipped).length;
    console.log(`\n${ran - failed} passed, ${failed} failed, ${results.length - ran} skipped in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    if (values.json) {
      const out = {
        device: ctx.info,
        results: results.map((r) => ({
          kernel: r.case.kernel,
          act: r.case.act,
          label: r.case.label,
          config: r.case.config ?? null,
          passed: r.passed,
          skipped: r.skipped ?? null,
          maxAbsErr: Number.isFinite(r.maxAbsErr) ? r.maxAbsErr : null,
          error: r.error ?? null,
          ms: Math.round(r.ms * 10) / 10,
        })),
      };
      await writeFile(values.json, JSON.stringify(out, null, 2));
    }
    return failed ? 1 : 0;
  } finally {
    ctx.destroy();
  }
}
