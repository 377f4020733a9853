/**
 * Tensor-core GEMM probe: where the subgroup-matrix kernel's time goes. Times configs of
 * matmul.tensor at a few Llama-3.1-8B shapes (the default, and --configs) next to variants of
 * its source, each a text transform of the built WGSL:
 *   no-store      the staged tiles are stored once before the K loop (tensor cores + matrix loads)
 *   no-mma        no products (global loads + staging stores + barriers)
 *   no-load       the tiles are loaded once before the K loop (stores + products every step)
 *   half-store    half the staging stores (wrong results: is the store count the bound?)
 *   xg, xwg       x's (and W's) matrices loaded straight from the storage buffer, no staging
 *   cmx, cmxw     x (and W) staged through subgroupMatrixLoad from storage + subgroupMatrixStore
 *   unrolled      the staging with one named register per quad (no loop-indexed array)
 *   pf2, unrolled-pf2  the loads issued two steps ahead
 * The timing-only variants (no-*, half-store) compute wrong results; the others, and extra
 * configs, report their largest difference from the default's output. Shapes with M a multiple
 * of the tile only (the variants do not handle partial tiles).
 * H200 (bench/README.md): no-load ran 2.4x the default's speed, half-store no faster: the global
 * loads of the staging, not the stores or the tensor cores, bound the kernel.
 *   node bench/build.mjs bench/tensor-probe.ts && node bench/dist/tensor-probe.js
 *     [--variants base,no-load,...] [--cases 0,3] [--configs '[{...}]'] [--out f.json]
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { f16BitsToF32 } from '../src/core/dtype.js';
import { acquireGpu } from '../src/gpu/acquire.js';
import { createBuffer, readBuffer } from '../src/gpu/buffers.js';
import { GpuTimer } from '../src/gpu/timer.js';
import { KernelDispatch } from '../src/kernels/launch.js';
import { matmulTensorSpec, type MatmulShape, type MatmulTensorConfig, type MatmulWeightFormat } from '../src/kernels/matmul.js';
import type { KernelSpec } from '../src/kernels/spec.js';
import { createNodePlatform } from '../src/platform/node/index.js';
import { uploadActivations, uploadWeights } from './matmul-setup.js';
import { steadyTime } from './steady.js';

const { values: args } = parseArgs({
  options: {
    out: { type: 'string', default: 'bench/results/tensor-probe.json' },
    variants: { type: 'string', default: 'base,no-load,unrolled,pf2,unrolled-pf2' },
    configs: { type: 'string' }, // JSON array of extra configs to time as `base`
    cases: { type: 'string' },
  },
});

type Variant = 'base' | 'no-store' | 'no-mma' | 'no-load' | 'half-store' | 'xg' | 'xwg' | 'cmx' | 'cmxw' | 'unrolled' | 'pf2' | 'unrolled-pf2';

function replaceOnce(src: string, from: string, to: string): string {
  const i = src.indexOf(from);
  if (i < 0) throw new Error(`probe transform: '${from.slice(0, 60)}' not found`);
  return src.slice(0, i) + to + src.slice(i + from.length);
}

function replaceAll(src: string, from: string, to: string): string {
  if (!src.includes(from)) throw new Error(`probe transform: '${from.slice(0, 60)}' not found`);
  return src.split(from).join(to);
}

const LOOP_HEAD = 'for (var k0 = 0u; k0 < params.K; k0 += BK) {\n      tc_store(lid, &st, 0u);';
const STEP = 'tc_step(acc, lid, 0u, 0u);';
const LOAD_NEXT = 'if (k0 + BK < params.K) { st = tc_load(wid, lid, k0 + BK); }';

function transform(src: string, v: Variant, cfg?: MatmulTensorConfig): string {
  switch (v) {
    case 'unrolled':
      return unrolled(src, cfg!);
    case 'pf2':
      return prefetch2(src);
    case 'unrolled-pf2':
      return prefetch2(unrolled(src, cfg!));
    case 'base':
      return src;
    case 'no-store':
      return replaceOnce(src, LOOP_HEAD, 'tc_store(lid, &st, 0u);\n    for (var k0 = 0u; k0 < params.K; k0 += BK) {');
    case 'no-mma':
      return replaceOnce(src, STEP, '');
    case 'no-load':
      return replaceOnce(src, LOAD_NEXT, '');
    case 'half-store':
      return replaceAll(replaceAll(src, 'xt[o + 2u] = h.z;', ''), 'wt[o + 2u] = h.z;', '');
    case 'cmx':
    case 'cmxw':
      return cmStaging(src, v === 'cmxw');
    case 'xg':
    case 'xwg': {
      let s = src;
      const decl = '\n@group(0) @binding(0) var<storage, read> xh: array<f16>;\nvar<private> g_xb: u32;\n' +
        (v === 'xwg' ? '@group(0) @binding(1) var<storage, read> wh: array<f16>;\nvar<private> g_wb: u32;\n' : '');
      s = replaceOnce(s, 'alias L = ', decl + 'alias L = ');
      s = replaceOnce(s, 'if (i < BM * KQ && m0 + r < params.M && k0 + c < params.K) { v = x_half4(m0 + r, k0 + c); }', '');
      s = replaceOnce(s, 'if (i < BM * KQ) {\n      let h = (*st).x[j];', 'if (false) {\n      let h = (*st).x[j];');
      s = replaceAll(s, '(&xt, rb + kk, XS)', '(&xh, g_xb + kk, params.K)');
      for (const t of ['', '2u * ', '3u * ']) s = replaceAll(s, `(&xt, rb + ${t}SM * XS + kk, XS)`, `(&xh, g_xb + ${t}SM * params.K + kk, params.K)`);
      let set = 'g_xb = (wid.y * BM + ((lid / SG_SIZE) / SG_N) * TI * SM) * params.K + k0;\n      ';
      if (v === 'xwg') {
        s = replaceOnce(s, 'if (i < BN * KQ && n0 + r < params.N && k0 + c < params.K) { v = w_half4(n0 + r, (k0 + c) >> 2u); }', '');
        s = replaceOnce(s, 'if (i < BN * KQ) {\n      let h = (*st).w[j];', 'if (false) {\n      let h = (*st).w[j];');
        s = replaceAll(s, '(&wt, cb + kk, XS)', '(&wh, g_wb + kk, params.K)');
        for (const t of ['', '2u * ', '3u * ']) s = replaceAll(s, `(&wt, cb + ${t}SN * XS + kk, XS)`, `(&wh, g_wb + ${t}SN * params.K + kk, params.K)`);
        set += 'g_wb = (wid.x * BN + ((lid / SG_SIZE) % SG_N) * TJ * SN) * params.K + k0;\n      ';
      }
      return replaceOnce(s, STEP, set + STEP);
    }
  }
}

/**
 * x (and W) staged through subgroup matrices: each subgroup loads its share of the step's 16x16
 * blocks from storage with subgroupMatrixLoad (one step ahead) and stores them to the workgroup
 * tiles with subgroupMatrixStore, instead of one f16 store per element.
 */
function cmStaging(src: string, withW: boolean): string {
  let s = src;
  s = replaceOnce(s, 'if (i < BM * KQ && m0 + r < params.M && k0 + c < params.K) { v = x_half4(m0 + r, k0 + c); }', '');
  s = replaceOnce(s, 'if (i < BM * KQ) {\n      let h = (*st).x[j];', 'if (false) {\n      let h = (*st).x[j];');
  if (withW) {
    s = replaceOnce(s, 'if (i < BN * KQ && n0 + r < params.N && k0 + c < params.K) { v = w_half4(n0 + r, (k0 + c) >> 2u); }', '');
    s = replaceOnce(s, 'if (i < BN * KQ) {\n      let h = (*st).w[j];', 'if (false) {\n      let h = (*st).w[j];');
  }
  const helpers = `
@group(0) @binding(0) var<storage, read> xh: array<f16>;
${withW ? '@group(0) @binding(1) var<storage, read> wh: array<f16>;' : ''}
const NSG = SG_M * SG_N;
const XMAT = (BM / SM) * (BK / SK) / NSG; // x blocks each subgroup stages per step
const WMAT = (BN / SN) * (BK / SK) / NSG;
struct CmStage { x0: L, x1: L, x2: L, x3: L, w0: R, w1: R, w2: R, w3: R }
@diagnostic(off, chromium.subgroup_matrix_uniformity)
fn cm_x(wid: vec3u, sg: u32, j: u32, k0: u32) -> L {
  let idx = sg + j * NSG;
  let tr = idx / (BK / SK);
  let tc = idx % (BK / SK);
  return subgroupMatrixLoad<L, row_major>(&xh, (wid.y * BM + tr * SM) * params.K + k0 + tc * SK, params.K);
}
@diagnostic(off, chromium.subgroup_matrix_uniformity)
fn cm_w(wid: vec3u, sg: u32, j: u32, k0: u32) -> R {
  ${withW ? `let idx = sg + j * NSG;
  let tr = idx / (BK / SK);
  let tc = idx % (BK / SK);
  return subgroupMatrixLoad<R, col_major>(&wh, (wid.x * BN + tr * SN) * params.K + k0 + tc * SK, params.K);` : 'return R();'}
}
@diagnostic(off, chromium.subgroup_matrix_uniformity)
fn cm_load(wid: vec3u, lid: u32, k0: u32) -> CmStage {
  let sg = lid / SG_SIZE;
  var c: CmStage;
  c.x0 = cm_x(wid, sg, 0u, k0);
  if (XMAT > 1u) { c.x1 = cm_x(wid, sg, 1u, k0); }
  if (XMAT > 2u) { c.x2 = cm_x(wid, sg, 2u, k0); c.x3 = cm_x(wid, sg, 3u, k0); }
  ${withW ? `c.w0 = cm_w(wid, sg, 0u, k0);
  if (WMAT > 1u) { c.w1 = cm_w(wid, sg, 1u, k0); }
  if (WMAT > 2u) { c.w2 = cm_w(wid, sg, 2u, k0); c.w3 = cm_w(wid, sg, 3u, k0); }` : ''}
  return c;
}
@diagnostic(off, chromium.subgroup_matrix_uniformity)
fn cm_store_x(sg: u32, j: u32, m: L) {
  let idx = sg + j * NSG;
  subgroupMatrixStore<row_major>(&xt, (idx / (BK / SK)) * SM * XS + (idx % (BK / SK)) * SK, m, XS);
}
@diagnostic(off, chromium.subgroup_matrix_uniformity)
fn cm_store_w(sg: u32, j: u32, m: R) {
  let idx = sg + j * NSG;
  subgroupMatrixStore<col_major>(&wt, (idx / (BK / SK)) * SN * XS + (idx % (BK / SK)) * SK, m, XS);
}
@diagnostic(off, chromium.subgroup_matrix_uniformity)
fn cm_store(lid: u32, c: ptr<function, CmStage>) {
  let sg = lid / SG_SIZE;
  cm_store_x(sg, 0u, (*c).x0);
  if (XMAT > 1u) { cm_store_x(sg, 1u, (*c).x1); }
  if (XMAT > 2u) { cm_store_x(sg, 2u, (*c).x2); cm_store_x(sg, 3u, (*c).x3); }
  ${withW ? `cm_store_w(sg, 0u, (*c).w0);
  if (WMAT > 1u) { cm_store_w(sg, 1u, (*c).w1); }
  if (WMAT > 2u) { cm_store_w(sg, 2u, (*c).w2); cm_store_w(sg, 3u, (*c).w3); }` : ''}
}
`;
  s = replaceOnce(s, '// The products of one staged step', helpers + '\n// The products of one staged step');
  s = replaceOnce(s, '  var st = tc_load(wid, lid, 0u);\n', '  var st = tc_load(wid, lid, 0u);\n  var cm = cm_load(wid, lid, 0u);\n');
  s = replaceOnce(s, LOOP_HEAD, LOOP_HEAD + '\n      cm_store(lid, &cm);');
  s = replaceOnce(s, LOAD_NEXT, 'if (k0 + BK < params.K) { st = tc_load(wid, lid, k0 + BK); cm = cm_load(wid, lid, k0 + BK); }');
  return s;
}

/**
 * tc_load / tc_store with one named register per staged quad (no array indexed by a loop
 * counter, which a compiler may keep in local memory).
 */
function unrolled(src: string, cfg: MatmulTensorConfig): string {
  const [sm, sn] = cfg.mma;
  const wg = 32 * cfg.sgM * cfg.sgN;
  const kq = cfg.bk / 4;
  const bm = cfg.sgM * cfg.ti * sm;
  const bn = cfg.sgN * cfg.tj * sn;
  const nxq = Math.ceil((bm * kq) / wg);
  const nwq = Math.ceil((bn * kq) / wg);
  const names = [...Array.from({ length: nxq }, (_, j) => `x${j}`), ...Array.from({ length: nwq }, (_, j) => `w${j}`)];
  let code = `struct Staged { ${names.map((n) => `${n}: vec4<f16>`).join(', ')} }\n`;
  code += 'fn tc_load(wid: vec3u, lid: u32, k0: u32) -> Staged {\n  let n0 = wid.x * BN;\n  let m0 = wid.y * BM;\n  var st: Staged;\n';
  for (let j = 0; j < nxq; j++) {
    code += `  { let i = lid + ${j}u * WG; let r = i / KQ; let c = (i % KQ) * 4u; if (i < BM * KQ && m0 + r < params.M && k0 + c < params.K) { st.x${j} = x_half4(m0 + r, k0 + c); } }\n`;
  }
  for (let j = 0; j < nwq; j++) {
    code += `  { let i = lid + ${j}u * WG; let r = i / KQ; let c = (i % KQ) * 4u; if (i < BN * KQ && n0 + r < params.N && k0 + c < params.K) { st.w${j} = w_half4(n0 + r, (k0 + c) >> 2u); } }\n`;
  }
  code += '  return st;\n}\nfn tc_store(lid: u32, st: ptr<function, Staged>, buf: u32) {\n';
  for (let j = 0; j < nxq; j++) {
    code += `  { let i = lid + ${j}u * WG; if (i < BM * KQ) { let h = (*st).x${j}; let o = buf * BM * XS + (i / KQ) * XS + (i % KQ) * 4u; xt[o] = h.x; xt[o + 1u] = h.y; xt[o + 2u] = h.z; xt[o + 3u] = h.w; } }\n`;
  }
  for (let j = 0; j < nwq; j++) {
    code += `  { let i = lid + ${j}u * WG; if (i < BN * KQ) { let h = (*st).w${j}; let o = buf * BN * XS + (i / KQ) * XS + (i % KQ) * 4u; wt[o] = h.x; wt[o + 1u] = h.y; wt[o + 2u] = h.z; wt[o + 3u] = h.w; } }\n`;
  }
  code += '}\n\n';
  const a = src.indexOf('struct Staged {');
  const b = src.indexOf('// The products of one staged step');
  if (a < 0 || b < 0) throw new Error('probe transform: staging functions not found');
  return src.slice(0, a) + code + src.slice(b);
}

/** The DB = 0 loop with the loads issued two steps ahead (two register sets, loop unrolled by 2). */
function prefetch2(src: string): string {
  const from = `  var st = tc_load(wid, lid, 0u);
  if (DB == 0u) {
    // One staging buffer: store, wait, products, wait (the next step overwrites the tiles).
    for (var k0 = 0u; k0 < params.K; k0 += BK) {
      tc_store(lid, &st, 0u);
      workgroupBarrier();
      if (k0 + BK < params.K) { st = tc_load(wid, lid, k0 + BK); } // in flight during the products
      tc_step(acc, lid, 0u, 0u);
      workgroupBarrier();
    }
  }`;
  const to = `  var st = tc_load(wid, lid, 0u);
  var st2 = tc_load(wid, lid, BK);
  if (DB == 0u) {
    for (var k0 = 0u; k0 < params.K; k0 += 2u * BK) {
      tc_store(lid, &st, 0u);
      workgroupBarrier();
      if (k0 + 2u * BK < params.K) { st = tc_load(wid, lid, k0 + 2u * BK); }
      tc_step(acc, lid, 0u, 0u);
      workgroupBarrier();
      if (k0 + BK < params.K) {
        tc_store(lid, &st2, 0u);
        workgroupBarrier();
        if (k0 + 3u * BK < params.K) { st2 = tc_load(wid, lid, k0 + 3u * BK); }
        tc_step(acc, lid, 0u, 0u);
        workgroupBarrier();
      }
    }
  }`;
  return replaceOnce(src, from, to);
}

/** Whether each subgroup stages 1, 2 or 4 whole blocks of x (and W) per step. */
function cmFits(cfg: MatmulTensorConfig, withW: boolean): boolean {
  const [sm, sn, sk] = cfg.mma;
  const nsg = cfg.sgM * cfg.sgN;
  const per = (rows: number, r: number) => ((rows / r) * (cfg.bk / sk)) / nsg;
  const ok = (n: number) => n === 1 || n === 2 || n === 4;
  return ok(per(cfg.sgM * cfg.ti * sm, sm)) && (!withW || ok(per(cfg.sgN * cfg.tj * sn, sn)));
}

function variantSpec(v: Variant): KernelSpec<MatmulShape, MatmulTensorConfig> {
  return {
    ...matmulTensorSpec,
    id: `${matmulTensorSpec.id}.probe-${v}`,
    build: (shape, cfg, dev) => {
      const b = matmulTensorSpec.build(shape, cfg, dev);
      return { ...b, source: transform(b.source, v, cfg) };
    },
  };
}

const ALL_CASES: [string, MatmulWeightFormat, number, number, number][] = [
  ['q_proj', 'f16', 4096, 4096, 4096],
  ['q_proj', 'f16', 512, 4096, 4096],
  ['gate_proj', 'f16', 512, 14336, 4096],
  ['k_proj', 'f16', 512, 1024, 4096],
  ['q_proj', 'q4_0', 512, 4096, 4096],
  ['gate_proj', 'q4_0', 512, 14336, 4096],
  ['q_proj', 'q4_0', 128, 4096, 4096],
  ['k_proj', 'q4_0', 512, 1024, 4096],
  ['down_proj', 'q4_0', 128, 4096, 14336],
  ['gate_proj', 'q4_0', 128, 14336, 4096],
  ['q_proj', 'q4_0', 64, 4096, 4096],
];
/** --cases: indices into ALL_CASES (default all) */
const CASES = args.cases ? args.cases.split(',').map((i) => ALL_CASES[Number(i)]!) : ALL_CASES;

async function main(): Promise<void> {
  const ctx = await acquireGpu(createNodePlatform());
  const dev = ctx.info;
  console.log(`adapter: ${dev.vendor} ${dev.architecture} ${dev.device}`);
  const timer = new GpuTimer(ctx);
  const rows: unknown[] = [];
  const variants = args.variants!.split(',') as Variant[];
  const extra = args.configs ? (JSON.parse(args.configs) as MatmulTensorConfig[]) : [];
  for (const [name, weight, M, N, K] of CASES) {
    const shape: MatmulShape = { act: 'f16', weight, M, N, K, bias: false };
    const w = uploadWeights(ctx, weight, N, K, 1);
    const x = uploadActivations(ctx, 'f16', M, K, 1);
    const dflt = matmulTensorSpec.defaultConfig(shape, dev);
    let reference: Uint16Array | undefined;
    const runs: [Variant, MatmulTensorConfig][] = [...variants.map((v) => [v, dflt] as [Variant, MatmulTensorConfig]), ...extra.map((c) => ['base', c] as [Variant, MatmulTensorConfig])];
    for (const [v, cfg] of runs) {
      if ((v === 'xwg' || v === 'cmxw') && weight !== 'f16') continue;
      if ((v === 'cmx' || v === 'cmxw') && !cmFits(cfg, v === 'cmxw')) continue;
      const y = createBuffer(ctx, M * N * 2, 'probe:y');
      try {
        const kd = await KernelDispatch.create(ctx, variantSpec(v), shape, cfg, { x, y, w: { buffer: w.buffer, offset: 0, size: Math.ceil(w.bytes / 4) * 4 } });
        const t = (await steadyTime(timer, (pass) => kd.encode(pass))).ms;
        const out = new Uint16Array(await readBuffer(ctx, y));
        let diff: number | undefined;
        if (v === 'base' && cfg === dflt) reference = out;
        else if ((v === 'base' || v === 'xg' || v === 'xwg' || v === 'cmx' || v === 'cmxw' || v.startsWith('unrolled') || v === 'pf2') && reference)
          diff = out.reduce((d, h, i) => Math.max(d, Math.abs(f16BitsToF32(h) - f16BitsToF32(reference![i]!)) / (Math.abs(f16BitsToF32(reference![i]!)) + 1)), 0);
        const tflops = (2 * M * N * K) / t / 1e9;
        rows.push({ name, weight, M, N, K, variant: v, config: cfg, ms: t, tflops, maxRelDiff: diff });
        console.log(`${name} ${weight} M=${M}: ${v.padEnd(8)} ${t.toFixed(4)} ms ${tflops.toFixed(1)} TFLOP/s${diff === undefined ? '' : ` (max |diff| / (|base| + 1) ${diff.toExponential(2)})`} ${JSON.stringify(cfg)}`);
        kd.destroy();
      } catch (e) {
        console.log(`${name} ${weight} M=${M} ${v}: ERROR ${(e as Error).message.slice(0, 400)}`);
      }
      y.destroy();
    }
    w.buffer.destroy();
    x.destroy();
  }
  timer.destroy();
  await mkdir(dirname(args.out!), { recursive: true });
  await writeFile(args.out!, JSON.stringify({ adapter: dev, rows }, null, 1));
  ctx.destroy();
}

await main();
