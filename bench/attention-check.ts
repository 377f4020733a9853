/**
 * Correctness of the attention path on the adapter at hand, before anything is timed: the
 * conformance families (f32 and, with shader-f16, f16 activations), randomized batches for every
 * (activation, KV) dtype pair, and the WGSL backend against the CPU backend over a few serving
 * steps (f16 activations included). This is where f16 KV with f16 activations gets tested: the
 * development machine (SwiftShader) has no shader-f16.
 */
import type { ActDType } from '../src/core/dtype.js';
import { f32ArrayToF16, f16ArrayToF32, roundAs } from '../src/core/dtype.js';
import { Rng } from '../src/core/random.js';
import type { GpuContext } from '../src/gpu/context.js';
import { readBuffer, uploadBuffer, writeBuffer } from '../src/gpu/buffers.js';
import { CpuAttentionBackend, HostPagedKVCache } from '../src/attention/cpu-backend.js';
import { PagedKVCache } from '../src/attention/paged-kv-cache.js';
import { WgslAttentionBackend, fusedQkvViews } from '../src/attention/wgsl-backend.js';
import { pagedAttentionSpec, pagedAttentionSplitSpec } from '../src/kernels/attention.js';
import { randomSeqs, type KvDType } from '../src/kernels/attention-shape.js';
import { conformanceCases, runConformance, runConformanceCase, summarize } from '../src/kernels/conformance.js';
import { compareTensors } from '../src/kernels/host-tensors.js';

export interface CheckReport {
  conformance: ReturnType<typeof summarize>;
  failures: { kernel: string; act: string; label: string; error?: string }[];
  random: { act: ActDType; kv: KvDType; cases: number; failed: number; worstRatio: number }[];
  backend: { act: ActDType; kv: KvDType; steps: number; ok: boolean; worstRatio: number; error?: string }[];
}

export async function checkAttention(ctx: GpuContext, quick: boolean): Promise<CheckReport> {
  const acts: ActDType[] = ctx.info.features.f16 ? ['f32', 'f16'] : ['f32'];
  const cases = conformanceCases(ctx.info, { acts, randomShapes: quick ? 1 : 3, sweepConfigs: !quick, filter: (id) => id.startsWith('attention') || id === 'kv-write' });
  const results = await runConformance(ctx, cases);
  const failures = results.filter((r) => !r.passed).map((r) => ({ kernel: r.case.kernel, act: r.case.act, label: r.case.label, error: r.error }));
  const report: CheckReport = { conformance: summarize(results), failures, random: [], backend: [] };
  console.log(`check: ${results.length} conformance cases, ${failures.length} failed`);
  for (const f of failures.slice(0, 10)) console.log(`  FAIL ${f.kernel} ${f.act} ${f.label.slice(0, 120)}: ${f.error}`);

  const rng = new Rng(7);
  const dimsMenu = [
    { numHeads: 32, numKvHeads: 8, headDim: 128, blockSize: 16 },
    { numHeads: 14, numKvHeads: 2, headDim: 64, blockSize: 16 },
    { numHeads: 16, numKvHeads: 8, headDim: 256, blockSize: 16 },
    { numHeads: 12, numKvHeads: 12, headDim: 80, blockSize: 32 },
  ];
  for (const act of acts) {
    for (const kv of ['f32', 'f16'] as const) {
      const row = { act, kv, cases: 0, failed: 0, worstRatio: 0 };
      for (let i = 0; i < (quick ? 2 : 8); i++) {
        const d = dimsMenu[i % dimsMenu.length]!;
        const seqs = randomSeqs(rng, { maxSeqs: 8, maxCtx: quick ? 200 : 3000, maxChunk: 64 });
        const base = { act, kv, ...d, seqs, softcap: i % 3 === 2 ? 30 : 0, slidingWindow: i % 4 === 3 ? 200 : 0, fusedQkv: i % 2 === 1 };
        for (const [spec, shape] of [
          [pagedAttentionSpec, base],
          [pagedAttentionSplitSpec, { ...base, partitionSize: rng.pick([64, 256, 512]) }],
        ] as const) {
          const r = await runConformanceCase(ctx, { kernel: spec.id, act, label: 'random', spec, shape, seed: rng.int(0, 2 ** 31) });
          row.cases++;
          if (!r.passed) {
            row.failed++;
            console.log(`  FAIL random ${spec.id} ${act}/${kv} ${JSON.stringify({ ...d, seqs: seqs.length })}: ${r.error}`);
          }
          row.worstRatio = Math.max(row.worstRatio, r.worstRatio);
        }
      }
      console.log(`check: random batches ${act} activations, ${kv} KV: ${row.cases - row.failed}/${row.cases} passed (worst |err|/tol ${row.worstRatio.toFixed(3)})`);
      report.random.push(row);
      report.backend.push(await checkBackend(ctx, act, kv, quick ? 3 : 6, rng));
    }
  }
  return report;
}

/** WGSL backend vs CPU backend over serving steps (decodes + prefill chunks over a prefix). */
async function checkBackend(ctx: GpuContext, act: ActDType, kv: KvDType, steps: number, rng: Rng): Promise<CheckReport['backend'][number]> {
  const d = { act, numHeads: 16, numKvHeads: 4, headDim: 128 };
  const bs = 16;
  const numBlocks = 600;
  const limits = { maxNumTokens: 256, maxNumSeqs: 16, maxBlocksPerSeq: 256 };
  const cache = await PagedKVCache.create(ctx, { numLayers: 1, numKvHeads: d.numKvHeads, headDim: d.headDim, blockSize: bs, dtype: kv, numBlocks });
  const gpu = await WgslAttentionBackend.create(ctx, { dims: d, cache, limits, split: { targetWorkgroups: 256, partitionSize: 128 } });
  const host = new HostPagedKVCache(1, d.numKvHeads, d.headDim, bs, numBlocks, kv);
  const cpu = new CpuAttentionBackend(d, host, limits);
  const rowLen = (d.numHeads + 2 * d.numKvHeads) * d.headDim;
  const elem = act === 'f16' ? 2 : 4;
  const qkvBuf = uploadBuffer(ctx, new Uint8Array(limits.maxNumTokens * rowLen * elem), 'check:qkv');
  const outBuf = uploadBuffer(ctx, new Uint8Array(limits.maxNumTokens * d.numHeads * d.headDim * elem), 'check:out');
  const binding = gpu.bindLayer(0, { ...fusedQkvViews(qkvBuf, d), out: outBuf });
  const views = { qView: { offset: 0, tokenStride: rowLen }, kView: { offset: d.numHeads * d.headDim, tokenStride: rowLen }, vView: { offset: (d.numHeads + d.numKvHeads) * d.headDim, tokenStride: rowLen } };
  const free = rng.shuffle(Array.from({ length: numBlocks - 1 }, (_, i) => i + 1));
  const seqs: { len: number; blocks: number[] }[] = [];
  const round = roundAs(act);
  let worst = 0;
  try {
    for (let step = 0; step < steps; step++) {
      if (seqs.length < 6) seqs.push({ len: 0, blocks: [] });
      const batch = seqs.map((s) => {
        const ql = s.len === 0 ? rng.int(1, 200) : step % 2 ? 1 : rng.int(1, 40);
        s.len += ql;
        while (s.blocks.length * bs < s.len) s.blocks.push(free.pop()!);
        return { queryLen: ql, seqLen: s.len, blockIds: [...s.blocks] };
      });
      const mdG = gpu.buildMetadata({ seqs: batch });
      const mdC = cpu.buildMetadata({ seqs: batch });
      const n = mdG.numTokens;
      const qkv = new Float32Array(n * rowLen).map(() => round(rng.normal()));
      writeBuffer(ctx, qkvBuf, 0, act === 'f16' ? f32ArrayToF16(qkv) : qkv);
      const enc = ctx.device.createCommandEncoder();
      const pass = enc.beginComputePass();
      gpu.forward(pass, binding, mdG);
      pass.end();
      ctx.queue.submit([enc.finish()]);
      const want = new Float32Array(n * d.numHeads * d.headDim);
      cpu.forward(null, cpu.bindLayer(0, { q: qkv, k: qkv, v: qkv, out: want, ...views }), mdC);
      const bytes = await readBuffer(ctx, outBuf, want.length * elem);
      const got = act === 'f16' ? f16ArrayToF32(new Uint16Array(bytes)) : new Float32Array(bytes);
      const cmp = compareTensors(got, want, act === 'f32' ? { atol: 2e-5, rtol: 2e-4 } : { atol: 2e-3, rtol: 4e-3 });
      worst = Math.max(worst, cmp.worstRatio);
      if (!cmp.ok) throw new Error(`step ${step} (${mdG.plan.tiles}/${mdG.plan.numSplits}): out[${cmp.firstBad?.index}] = ${cmp.firstBad?.got}, want ${cmp.firstBad?.want}`);
    }
    console.log(`check: backend vs CPU, ${act} activations, ${kv} KV: ${steps} steps ok (worst |err|/tol ${worst.toFixed(3)})`);
    return { act, kv, steps, ok: true, worstRatio: worst };
  } catch (e) {
    console.log(`check: backend vs CPU, ${act}/${kv}: FAIL ${(e as Error).message}`);
    return { act, kv, steps, ok: false, worstRatio: worst, error: (e as Error).message };
  } finally {
    gpu.dispose();
    cache.dispose();
    qkvBuf.destroy();
    outBuf.destroy();
  }
}
