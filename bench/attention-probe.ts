/**
 * Probe of the decode attention kernel (shaders/attention-decode.wgsl, split entry point): times
 * configs and source variants (text edits made here only: loads-only and the like, to find what
 * limits the kernel) on one decode problem, with the split partials checked against the default
 * config's, and the torch copy of the same run as the reference. Not part of the product.
 *
 *   node bench/build.mjs bench/attention-probe.ts
 *   GPU: bash .gpu/run.sh node bench/dist/attention-probe.js --out $OUT/probe.json
 *
 * Options: --batch 32 --context 4096 --iters 10 --only name,name --torch auto|off --quick
 */
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { Rng } from '../src/core/random.js';
import { f32ArrayToF16 } from '../src/core/dtype.js';
import { acquireGpu } from '../src/gpu/acquire.js';
import { createBuffer, readBuffer, uploadBuffer, writeBuffer } from '../src/gpu/buffers.js';
import { GpuTimer } from '../src/gpu/timer.js';
import { KernelDispatch } from '../src/kernels/launch.js';
import { attentionDecodeSplitSpec, buildDecodeProgram, decodeConfigReasons, type AttentionDecodeConfig } from '../src/kernels/attention-decode.js';
import type { PagedAttentionSplitShape } from '../src/kernels/attention-shape.js';
import { createNodePlatform } from '../src/platform/node/index.js';
import { sameRunBaselines, warmUp } from './torch-runner.js';

process.env.XDG_RUNTIME_DIR ??= '/tmp';
const { values: args } = parseArgs({
  options: {
    batch: { type: 'string' },
    context: { type: 'string' },
    iters: { type: 'string' },
    only: { type: 'string' },
    torch: { type: 'string', default: 'auto' },
    quick: { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});

const COMPUTE_START = '      // partial dot products of every (key, row)';
const COMPUTE_END = '        lsum[r] = l;\n      }\n';
/** Replaces the per-iteration compute (q . k, shuffles, softmax, p * v) with `by`. */
function replaceCompute(s: string, by: string): string {
  const a = s.indexOf(COMPUTE_START);
  const b = s.indexOf(COMPUTE_END, a);
  if (a < 0 || b < 0) throw new Error('compute section not found');
  return s.slice(0, a) + by + s.slice(b + COMPUTE_END.length);
}
const UNPACK = /      for \(var u = 0u; u < U; u\+\+\) \{\n        let p = it \+ \(u \* NW \+ warp\) \* KPS \+ kg;\n        valid\[u\] = p >= lo && p < hi;\n[\s\S]*?\n      \}\n      if \(it \+ KPI < hi\)/;

const EDITS: Record<string, (s: string) => string> = {
  // loads and the unpack to f32 only
  loads: (s) => replaceCompute(s, '      for (var u = 0u; u < U; u++) { for (var v = 0u; v < NV; v++) { acc[v] += vec4<f32>(kf[u * NV + v]) + vec4<f32>(vf[u * NV + v]); } }\n'),
  // loads only: the raw words folded into the accumulator (no unpack)
  loadsraw: (s) => {
    const t = s.replace(UNPACK, '      for (var u = 0u; u < U * CPL; u++) { acc[u % NV] += bitcast<vec4<f32>>(bitcast<vec4<u32>>(kx[u]) ^ bitcast<vec4<u32>>(vx[u])); }\n      if (it + KPI < hi)');
    if (t === s) throw new Error('unpack loop not found');
    return replaceCompute(t, '');
  },
  // q . k and the shuffles, no softmax and p * v
  nosoftmax: (s) =>
    replaceCompute(
      s,
      s
        .slice(s.indexOf(COMPUTE_START), s.indexOf('      // online softmax per row'))
        .concat('      for (var u = 0u; u < U; u++) { for (var v = 0u; v < NV; v++) { acc[v] += vec4<f32>(vf[u * NV + v]) * d[u * G + v % G]; } }\n'),
    ),
  // no shuffles (wrong results: what the q . k sums over lanes cost)
  noshfl: (s) => {
    const t = s.replace('for (var i = 0u; i < U * G; i++) { d[i] += subgroupShuffleXor(d[i], o); }', '');
    if (t === s) throw new Error('shuffle loop not found');
    return t;
  },
};

interface Variant {
  name: string;
  cfg: AttentionDecodeConfig;
  p: number;
  edit?: string;
  /** blocks in order (block table 1, 2, 3, ...) instead of shuffled */
  contig?: boolean;
}

function variants(): Variant[] {
  const v: Variant[] = [];
  const add = (cfg: AttentionDecodeConfig, p: number, edit?: string, contig?: boolean) => {
    v.push({ name: `lpk${cfg.lpk}/nw${cfg.nw}/u${cfg.u}/p${p}${edit ? '/' + edit : ''}${contig ? '/contig' : ''}`, cfg, p, edit, contig });
  };
  const base = { lpk: 16, nw: 4, u: 4 };
  add(base, 256);
  for (const e of Object.keys(EDITS)) add(base, 256, e);
  add(base, 256, undefined, true);
  add(base, 1024, 'loadsraw');
  add({ ...base, u: 8 }, 1024, 'loadsraw');
  for (const u of [4, 8]) for (const p of [256, 512, 1024]) add({ ...base, u }, p);
  for (const [nw, u] of [[8, 4], [2, 8]] as const) add({ lpk: 16, nw, u }, 512);
  return v;
}

/** Combines split partials (log2-unit m, l, unnormalized acc) into normalized rows. */
function combine(part: Float32Array, ml: Float32Array, splits: number, rows: number, D: number): Float32Array {
  const out = new Float32Array(rows * D);
  for (let r = 0; r < rows; r++) {
    let M = -3e38;
    for (let z = 0; z < splits; z++) M = Math.max(M, ml[2 * (z * rows + r)]!);
    let L = 0;
    for (let z = 0; z < splits; z++) {
      const row = z * rows + r;
      const f = ml[2 * row]! > -1e38 ? 2 ** (ml[2 * row]! - M) : 0;
      L += ml[2 * row + 1]! * f;
      for (let i = 0; i < D; i++) out[r * D + i]! += part[row * D + i]! * f;
    }
    for (let i = 0; i < D; i++) out[r * D + i]! /= L;
  }
  return out;
}

async function main() {
  const ctx = await acquireGpu(createNodePlatform());
  const dev = ctx.info;
  const quick = args.quick ?? false;
  const f16 = dev.features.f16;
  const batch = Number(args.batch ?? (quick ? 2 : 32));
  const context = Number(args.context ?? (quick ? 300 : 4096));
  const iters = Number(args.iters ?? (quick ? 2 : 10));
  const d = { numHeads: quick ? 4 : 32, numKvHeads: quick ? 1 : 8, headDim: quick ? 128 : 128, blockSize: 16 };
  const act = f16 ? 'f16' : 'f32';
  console.log(`adapter: ${dev.vendor} ${dev.architecture} ${dev.description}; f16 ${f16}; sg ${dev.subgroupMinSize}..${dev.subgroupMaxSize}; batch ${batch} x ${context}`);
  const rng = new Rng(7);
  const warm = await warmUp(ctx, quick);
  const seqs = Array.from({ length: batch }, () => ({ queryLen: 1, seqLen: context }));
  const per = Math.ceil(context / d.blockSize);
  const numBlocks = 1 + per * batch;
  const pool = rng.shuffle(Array.from({ length: numBlocks - 1 }, (_, i) => i + 1));
  const bt = Uint32Array.from(pool);
  const qsl = Uint32Array.from({ length: batch + 1 }, (_, i) => i);
  const elem = f16 ? 2 : 4;
  const cacheElems = numBlocks * d.numKvHeads * d.blockSize * d.headDim;
  const rand = (n: number, a: number) => rng.floats(n, -a, a);
  const asAct = (x: Float32Array) => (f16 ? f32ArrayToF16(x) : x);
  const fill = (buf: GPUBuffer, a: number) => {
    const chunkElems = Math.min(cacheElems, 1 << 22);
    const chunk = asAct(rand(chunkElems, a));
    for (let off = 0; off < cacheElems; off += chunkElems) {
      const n = Math.min(chunkElems, cacheElems - off);
      writeBuffer(ctx, buf, off * elem, chunk.subarray(0, n));
    }
  };
  const maxSplits = Math.ceil(context / 64);
  const rows = batch * d.numHeads;
  const buffers = {
    q: uploadBuffer(ctx, asAct(rand(rows * d.headDim, 2)), 'q'),
    kCache: createBuffer(ctx, cacheElems * elem, 'k'),
    vCache: createBuffer(ctx, cacheElems * elem, 'v'),
    blockTables: uploadBuffer(ctx, bt, 'bt'),
    queryStartLoc: uploadBuffer(ctx, qsl, 'qsl'),
    seqLens: uploadBuffer(ctx, Uint32Array.from(seqs.map((s) => s.seqLen)), 'sl'),
    partOut: createBuffer(ctx, maxSplits * rows * d.headDim * 4, 'partOut'),
    partMl: createBuffer(ctx, maxSplits * rows * 8, 'partMl'),
  };
  const btContig = uploadBuffer(ctx, Uint32Array.from(pool, (_, i) => i + 1), 'btContig');
  fill(buffers.kCache, 2);
  fill(buffers.vCache, 1);
  const kvBytes = batch * context * 2 * d.numKvHeads * d.headDim * elem;
  const timer = new GpuTimer(ctx);
  const results: object[] = [];
  let ref: Float32Array | undefined;
  for (const v of variants()) {
    if (args.only && !args.only.split(',').some((o) => v.name.includes(o))) continue;
    const shape: PagedAttentionSplitShape = { act, kv: act, ...d, seqs, softcap: 0, slidingWindow: 0, fusedQkv: false, partitionSize: v.p };
    if (quick) v.cfg = { ...v.cfg, lpk: Math.min(v.cfg.lpk, dev.subgroupMaxSize) }; // SwiftShader: 4 lanes
    const why = decodeConfigReasons(shape, v.cfg, dev);
    if (why.length) {
      console.log(`${v.name}: skipped (${why.join('; ')})`);
      continue;
    }
    const edit = v.edit ? EDITS[v.edit]! : (s: string) => s;
    const spec = { ...attentionDecodeSplitSpec, build: (s: PagedAttentionSplitShape, c: AttentionDecodeConfig) => {
      const p = buildDecodeProgram(s, c, dev, true);
      return { ...p, source: edit(p.source) };
    } };
    try {
      const t0 = performance.now();
      const kd = await KernelDispatch.create(ctx, spec, shape, v.cfg, v.contig ? { ...buffers, blockTables: btContig } : buffers);
      const compileMs = performance.now() - t0;
      const record = (pass: GPUComputePassEncoder) => kd.encode(pass);
      await timer.time(record, 2);
      const runs: number[] = [];
      for (let r = 0; r < 3; r++) runs.push(await timer.time(record, iters));
      const ms = runs.sort((a, b) => a - b)[1]!;
      let err: number | undefined;
      if (!v.edit && !v.contig) {
        const splits = Math.ceil(context / v.p);
        const part = new Float32Array(await readBuffer(ctx, buffers.partOut, splits * rows * d.headDim * 4));
        const ml = new Float32Array(await readBuffer(ctx, buffers.partMl, splits * rows * 8));
        const out = combine(part, ml, splits, rows, d.headDim);
        if (!ref) ref = out;
        else {
          let e = 0;
          let mx = 0;
          for (let i = 0; i < out.length; i++) {
            e = Math.max(e, Math.abs(out[i]! - ref[i]!));
            mx = Math.max(mx, Math.abs(ref[i]!));
          }
          err = e / mx;
        }
      }
      const gbps = kvBytes / ms / 1e6;
      results.push({ ...v, ms, gbps, err, compileMs });
      console.log(`${v.name}: ${ms.toFixed(4)} ms ${gbps.toFixed(0)} GB/s${err !== undefined ? ` maxerr/max ${err.toExponential(2)}` : ''} (compile ${compileMs.toFixed(0)} ms)`);
      kd.destroy();
    } catch (e) {
      console.log(`${v.name}: ERROR ${(e as Error).message.slice(0, 600)}`);
    }
  }
  timer.destroy();
  const base = await sameRunBaselines(ctx, { quick, copyMiB: quick ? 16 : 1024, torch: args.torch ?? 'auto', cases: [], warm, convention: 'readWriteGBps' });
  const copy = base.copyRef;
  console.log(`copy ref ${copy?.toFixed(0)} GB/s (torch ${base.torchCopy?.readWriteGBps?.toFixed(0)}, wgsl ${base.wgslCopy?.readWriteGBps.toFixed(0)})`);
  if (copy) for (const r of results as { name: string; gbps: number }[]) console.log(`  ${r.name}: ${((100 * r.gbps) / copy).toFixed(1)}% of copy`);
  if (args.out) await writeFile(args.out, JSON.stringify({ adapter: dev, copy: base.copyReport, results }, null, 1));
  for (const b of Object.values(buffers)) b.destroy();
  ctx.destroy();
}

await main();
