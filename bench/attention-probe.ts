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
import { f16ArrayToF32, f32ArrayToF16 } from '../src/core/dtype.js';
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
  // the softmax as it was before scores carried LOG2E in q and masked keys underflowed to 0
  oldsoftmax: (s) => {
    const swaps: [string, string][] = [
      ['let qScale = select(params.scale * LOG2E, params.scale, params.softcap > 0.0);', 'let qScale = params.scale;'],
      ['x = select(MASKED, x, valid[u]);', 'x = select(MASKED, x * LOG2E, valid[u]);'],
      ['let alpha = exp2(mrow[r] - mBase);', 'let alpha = select(0.0, exp2(mrow[r] - mNew), mrow[r] > VALID_MIN);'],
      ['let pr = exp2(d[u * G + r] - mBase);', 'let pr = select(0.0, exp2(d[u * G + r] - mNew), d[u * G + r] > VALID_MIN);'],
    ];
    for (const [a, b] of swaps) {
      if (!s.includes(a)) throw new Error(`not found: ${a}`);
      s = s.replace(a, b);
    }
    return s;
  },
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
    const tag = `lpk${cfg.lpk}/nw${cfg.nw}/u${cfg.u}${cfg.half ? '/half' : ''}/p${p}`;
    v.push({ name: `${tag}${edit ? '/' + edit : ''}${contig ? '/contig' : ''}`, cfg, p, edit, contig });
  };
  const base = { lpk: 16, nw: 4, u: 8 };
  const half = { ...base, half: true };
  for (const p of [512, 1024, 2048]) add(base, p);
  for (const p of [512, 1024]) add(base, p, 'oldsoftmax');
  for (const cfg of [half, { ...base, u: 4 }, { ...base, nw: 2 }, { ...base, nw: 8, u: 4 }]) add(cfg, 1024);
  for (const e of ['loads', 'nosoftmax', 'noshfl']) add(base, 1024, e);
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

/** Attention of every (sequence, head) row over the paged caches, in f64 (the cache repeats its chunk). */
function reference(q: Float32Array, k: Float32Array, v: Float32Array, bt: Uint32Array, o: { numHeads: number; numKvHeads: number; headDim: number; blockSize: number; batch: number; context: number; chunkElems: number }): Float32Array {
  const { numHeads: H, numKvHeads: KH, headDim: D, blockSize: BS, batch, context, chunkElems } = o;
  const G = H / KH;
  const per = Math.ceil(context / BS);
  const out = new Float32Array(batch * H * D);
  const scale = 1 / Math.sqrt(D);
  const sc = new Float64Array(context);
  const acc = new Float64Array(D);
  for (let s = 0; s < batch; s++) {
    for (let h = 0; h < H; h++) {
      const qo = (s * H + h) * D;
      // where key j of this row's kv head starts in the repeated chunk
      const at = (j: number) => (((bt[s * per + Math.floor(j / BS)]! * KH + Math.floor(h / G)) * BS + (j % BS)) * D) % chunkElems;
      let m = -Infinity;
      for (let j = 0; j < context; j++) {
        const base = at(j);
        let t = 0;
        for (let i = 0; i < D; i++) t += q[qo + i]! * k[base + i]!;
        sc[j] = t * scale;
        m = Math.max(m, sc[j]!);
      }
      acc.fill(0);
      let l = 0;
      for (let j = 0; j < context; j++) {
        const p = Math.exp(sc[j]! - m);
        l += p;
        const base = at(j);
        for (let i = 0; i < D; i++) acc[i] = acc[i]! + p * v[base + i]!;
      }
      for (let i = 0; i < D; i++) out[qo + i] = acc[i]! / l;
    }
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
  const iters = Number(args.iters ?? (quick ? 2 : 20));
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
  // The caches repeat one random chunk; the host keeps it (as the cache's values) for the reference.
  const chunkElems = Math.min(cacheElems, 1 << 22);
  const fill = (buf: GPUBuffer, a: number): Float32Array => {
    const chunk = asAct(rand(chunkElems, a));
    for (let off = 0; off < cacheElems; off += chunkElems) {
      const n = Math.min(chunkElems, cacheElems - off);
      writeBuffer(ctx, buf, off * elem, chunk.subarray(0, n));
    }
    return chunk instanceof Uint16Array ? f16ArrayToF32(chunk) : chunk;
  };
  const maxSplits = Math.ceil(context / 64);
  const rows = batch * d.numHeads;
  const qHost = asAct(rand(rows * d.headDim, 2));
  const buffers = {
    q: uploadBuffer(ctx, qHost, 'q'),
    kCache: createBuffer(ctx, cacheElems * elem, 'k'),
    vCache: createBuffer(ctx, cacheElems * elem, 'v'),
    blockTables: uploadBuffer(ctx, bt, 'bt'),
    queryStartLoc: uploadBuffer(ctx, qsl, 'qsl'),
    seqLens: uploadBuffer(ctx, Uint32Array.from(seqs.map((s) => s.seqLen)), 'sl'),
    partOut: createBuffer(ctx, maxSplits * rows * d.headDim * 4, 'partOut'),
    partMl: createBuffer(ctx, maxSplits * rows * 8, 'partMl'),
  };
  const btContig = uploadBuffer(ctx, Uint32Array.from(pool, (_, i) => i + 1), 'btContig');
  const kHost = fill(buffers.kCache, 2);
  const vHost = fill(buffers.vCache, 1);
  const ref = reference(qHost instanceof Uint16Array ? f16ArrayToF32(qHost) : qHost, kHost, vHost, bt, { ...d, batch, context, chunkElems });
  const kvBytes = batch * context * 2 * d.numKvHeads * d.headDim * elem;
  const timer = new GpuTimer(ctx);
  // Compile every variant and check it against the CPU reference first; then time them in turns
  // (rounds over all variants, median per variant), so that drifting GPU clocks hit all alike.
  const live: { v: Variant; kd: KernelDispatch<PagedAttentionSplitShape, AttentionDecodeConfig>; compileMs: number; err?: number; runs: number[] }[] = [];
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
      let err: number | undefined;
      if (!v.contig) {
        await timer.time((pass) => kd.encode(pass), 1);
        const splits = Math.ceil(context / v.p);
        const part = new Float32Array(await readBuffer(ctx, buffers.partOut, splits * rows * d.headDim * 4));
        const ml = new Float32Array(await readBuffer(ctx, buffers.partMl, splits * rows * 8));
        const out = combine(part, ml, splits, rows, d.headDim);
        let e = 0;
        let mx = 0;
        for (let i = 0; i < out.length; i++) {
          e = Math.max(e, Math.abs(out[i]! - ref[i]!));
          mx = Math.max(mx, Math.abs(ref[i]!));
        }
        err = e / mx;
      }
      live.push({ v, kd, compileMs, err, runs: [] });
    } catch (e) {
      console.log(`${v.name}: ERROR ${(e as Error).message.slice(0, 600)}`);
    }
  }
  if (live.length) {
    const warmUntil = performance.now() + (quick ? 0 : 1500);
    while (performance.now() < warmUntil) await timer.time((pass) => live[0]!.kd.encode(pass), iters);
  }
  for (let round = 0; round < (quick ? 1 : 5); round++) {
    for (const l of live) l.runs.push(await timer.time((pass) => l.kd.encode(pass), iters));
  }
  const results: object[] = [];
  for (const { v, kd, compileMs, err, runs } of live) {
    const ms = runs.sort((a, b) => a - b)[runs.length >> 1]!;
    const gbps = kvBytes / ms / 1e6;
    results.push({ ...v, ms, gbps, err, compileMs, runs });
    console.log(`${v.name}: ${ms.toFixed(4)} ms ${gbps.toFixed(0)} GB/s${err !== undefined ? ` maxerr/max ${err.toExponential(2)}` : ''} (compile ${compileMs.toFixed(0)} ms; runs ${runs.map((r) => r.toFixed(3)).join(' ')})`);
    kd.destroy();
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
