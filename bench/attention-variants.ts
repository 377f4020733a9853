/**
 * Experiments on the attention kernels: times source variants (text edits of the shader, made
 * here only) to find what limits a kernel. `--kernel tiled` (shaders/attention.wgsl: one decode
 * and one prefill problem) or `--kernel tensor` (shaders/attention-tensor.wgsl: prompts of 512
 * and 2048 tokens). Variants that drop work give wrong outputs: they time, they do not check.
 * Not part of the product;
 * `node bench/build.mjs bench/attention-variants.ts && node bench/dist/attention-variants.js`.
 */
import { parseArgs } from 'node:util';
import { Rng } from '../src/core/random.js';
import { acquireGpu } from '../src/gpu/acquire.js';
import { createBuffer, uploadBuffer } from '../src/gpu/buffers.js';
import { GpuTimer } from '../src/gpu/timer.js';
import { KernelDispatch } from '../src/kernels/launch.js';
import { pagedAttentionSpec } from '../src/kernels/attention.js';
import { attentionTensorSpec } from '../src/kernels/attention-tensor.js';
import type { KernelSpec } from '../src/kernels/spec.js';
import type { PagedAttentionConfig, PagedAttentionShape } from '../src/kernels/attention-shape.js';
import { createNodePlatform } from '../src/platform/node/index.js';

process.env.XDG_RUNTIME_DIR ??= '/tmp';
const { values: args } = parseArgs({ options: { quick: { type: 'boolean', default: false }, variants: { type: 'string' }, kernel: { type: 'string', default: 'tiled' }, configs: { type: 'string' } } });

const VARIANTS: Record<string, (s: string) => string> = {
  base: (s) => s,
  // only the K/V pipeline (load, stage, barriers): the memory roofline of this structure
  mem_only: (s) =>
    s
      .replace('if (srs < NRS) { score_tile(tl, t0, kHi, sk, srs); }', '')
      .replace('if (srs < NRS) { softmax_tile(sk, srs); }', '')
      .replace('if (ors < NRO) { accumulate_tile(odv, ors); }', 'if (ors < NRO) { acc[0] += vs[odv] + ks[odv]; }'),
  // no row max (one less shared-memory pass per tile)
  no_rowmax: (s) => s.replace('for (var kk = 0u; kk < TK; kk++) { mt = max(mt, ss[r * TK + kk]); }', 'mt = ss[r * TK + sk];'),
  // two barriers fewer (wrong results; what the barriers cost)
  fewer_barriers: (s) => s.replace('    if (srs < NRS) { score_tile(tl, t0, kHi, sk, srs); }\n    workgroupBarrier();', '    if (srs < NRS) { score_tile(tl, t0, kHi, sk, srs); }'),
};

/** s with `from` replaced by `to`; a variant whose text is gone from the kernel fails loudly. */
function sub(s: string, from: string, to: string): string {
  if (!s.includes(from)) throw new Error(`variant edit: '${from.slice(0, 60)}' is not in the kernel any more`);
  return s.replace(from, to);
}

/** attention-tensor.wgsl: which part of a key step bounds it. */
const TENSOR_VARIANTS: Record<string, (s: string) => string> = {
  base: (s) => s,
  // a row's reference max set by its first keys and never moved (no rescale): what the check costs
  no_rescale: (s) => sub(s, 'let moves = mt > m + RESCALE_LOG2;', 'let moves = m <= VALID_MIN && mt > VALID_MIN;'),
  // no K/V from memory (the block-table lookup stays): the global loads' share
  no_load: (s) => sub(sub(s, 'kx = kCache[src];', 'kx = kv_chunk(src);'), 'vx = vCache[src];', 'vx = kv_chunk(src + 1u);'),
  // no q . k products
  no_scores: (s) => sub(s, '\n  scores(lid);', ''),
  // no p . v products
  no_pv: (s) => sub(s, 'accumulate_pv(&acc, lid);', ''),
  // probabilities without exp2, mask or scale
  no_softmax: (s) => sub(s, 'let p = select(0.0, exp2(sv[c] - m), sv[c] > VALID_MIN);', 'let p = ss[(sg * SUB + row) * SSK + c0 + c];'),
};

function tensorSpec(edit: (s: string) => string): KernelSpec<PagedAttentionShape, any> {
  return { ...attentionTensorSpec, build: (s, c, dev) => {
    const p = attentionTensorSpec.build(s, c, dev);
    return { ...p, source: edit(p.source) };
  } };
}

async function main() {
  const ctx = await acquireGpu(createNodePlatform());
  const quick = args.quick ?? false;
  const timer = new GpuTimer(ctx);
  const act = ctx.info.features.f16 ? 'f16' : 'f32';
  const d = quick ? { numHeads: 4, numKvHeads: 2, headDim: 32 } : { numHeads: 32, numKvHeads: 8, headDim: 128 };
  const tensor = args.kernel === 'tensor';
  const cfgArg = args.configs ? (JSON.parse(args.configs) as any[]) : undefined;
  const problems: [string, PagedAttentionShape['seqs'], any[]][] = tensor
    ? [
        ['prefill 1 x 512', [{ queryLen: quick ? 64 : 512, seqLen: quick ? 64 : 512 }], cfgArg ?? [{ sgs: 4, tk: 16 }, { sgs: 4, tk: 32 }]],
        ['prefill 1 x 2048', [{ queryLen: quick ? 128 : 2048, seqLen: quick ? 128 : 2048 }], cfgArg ?? [{ sgs: 4, tk: 16 }, { sgs: 4, tk: 32 }]],
      ]
    : [
        ['decode 64 x 4096', Array.from({ length: quick ? 2 : 64 }, () => ({ queryLen: 1, seqLen: quick ? 100 : 4096 })), [{ tq: 1, tk: 16, wg: 64 }, { tq: 1, tk: 32, wg: 128 }]],
        ['prefill 1 x 2048', [{ queryLen: quick ? 64 : 2048, seqLen: quick ? 64 : 2048 }], [{ tq: 4, tk: 16, wg: 128 }, { tq: 8, tk: 32, wg: 256 }]],
      ];
  const variants = tensor ? TENSOR_VARIANTS : VARIANTS;
  const rng = new Rng(3);
  for (const [name, seqs, configs] of problems) {
    const shape: PagedAttentionShape = { act, kv: act, ...d, blockSize: 16, seqs, softcap: 0, slidingWindow: 0, fusedQkv: false };
    const numTokens = seqs.reduce((a, s) => a + s.queryLen, 0);
    const per = seqs.map((s) => Math.ceil(s.seqLen / 16));
    const numBlocks = 1 + per.reduce((a, b) => a + b, 0);
    const stride = Math.max(...per);
    const pool = rng.shuffle(Array.from({ length: numBlocks - 1 }, (_, i) => i + 1));
    const bt = new Uint32Array(seqs.length * stride);
    let next = 0;
    seqs.forEach((_, i) => per[i]! && bt.set(pool.slice(next, (next += per[i]!)), i * stride));
    const qsl = new Uint32Array(seqs.length + 1);
    seqs.forEach((s, i) => (qsl[i + 1] = qsl[i]! + s.queryLen));
    const elem = act === 'f16' ? 2 : 4;
    const cacheBytes = numBlocks * d.numKvHeads * 16 * d.headDim * elem;
    const buffers = {
      q: createBuffer(ctx, numTokens * d.numHeads * d.headDim * elem, 'q'),
      kCache: createBuffer(ctx, cacheBytes, 'k'),
      vCache: createBuffer(ctx, cacheBytes, 'v'),
      blockTables: uploadBuffer(ctx, bt, 'bt'),
      queryStartLoc: uploadBuffer(ctx, qsl, 'qsl'),
      seqLens: uploadBuffer(ctx, Uint32Array.from(seqs.map((s) => s.seqLen)), 'sl'),
      out: createBuffer(ctx, numTokens * d.numHeads * d.headDim * elem, 'out'),
    };
    const kvRead = seqs.reduce((a, s) => a + s.seqLen, 0) * 2 * d.numKvHeads * d.headDim * elem;
    const flops = seqs.reduce((a, s) => a + 4 * d.headDim * d.numHeads * s.queryLen * (s.seqLen - (s.queryLen - 1) / 2), 0);
    for (const cfg of configs) {
      for (const [vname, edit] of Object.entries(variants)) {
        if (args.variants && !args.variants.split(',').includes(vname)) continue;
        const spec = tensor ? tensorSpec(edit) : { ...pagedAttentionSpec, build: (s: PagedAttentionShape, c: PagedAttentionConfig) => {
          const p = pagedAttentionSpec.build(s, c, ctx.info);
          return { ...p, source: edit(p.source) };
        } };
        const baseSource = (tensor ? attentionTensorSpec : pagedAttentionSpec).build(shape, cfg, ctx.info).source;
        if (vname !== 'base' && edit(baseSource) === baseSource) {
          console.log(`${name} ${vname}: the edit matched nothing`);
          continue;
        }
        try {
          const kd = await KernelDispatch.create(ctx, spec, shape, cfg, buffers);
          const record = (pass: GPUComputePassEncoder) => kd.encode(pass);
          await timer.time(record, 2);
          const runs: number[] = [];
          for (let r = 0; r < 3; r++) runs.push(await timer.time(record, quick ? 2 : 10));
          const ms = runs.sort((a, b) => a - b)[1]!;
          console.log(`${name} ${JSON.stringify(cfg)} ${vname}: ${ms.toFixed(4)} ms, ${(kvRead / ms / 1e6).toFixed(0)} GB/s, ${(flops / ms / 1e9).toFixed(2)} TFLOP/s`);
          kd.destroy();
        } catch (e) {
          console.log(`${name} ${JSON.stringify(cfg)} ${vname}: ERROR ${(e as Error).message.slice(0, 300)}`);
        }
      }
    }
    for (const b of Object.values(buffers)) b.destroy();
  }
  timer.destroy();
  ctx.destroy();
}

await main();
