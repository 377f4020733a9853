/**
 * Tensor-core GEMM probe: where the subgroup-matrix kernel's time goes. Times configs of
 * matmul.tensor at a few Llama-3.1-8B shapes (the default, and --configs) next to variants of
 * its source, each a text transform of the built WGSL (timing only: their results are wrong):
 *   no-store      the staged tiles are stored once before the K loop (tensor cores + matrix loads)
 *   no-mma        no products (global loads + staging stores + barriers)
 *   no-load       the tiles are loaded once before the K loop (stores + products every step)
 *   half-store    half the staging stores (is the store count the bound?)
 *   load-after    the next step's loads issued after the products, not before (does the
 *                 prefetch overlap the tensor cores at all?)
 *   storage-barrier  a storageBarrier() after the products: the next step's loads may not sink
 *                 past it to their stores (does the compiler delay them?)
 *   load-early    the next step's loads issued before this step's stores (two register sets)
 * Extra configs report their largest difference from the default's output. Shapes with M a
 * multiple of the tile only (the variants do not handle partial tiles). A transform that no
 * longer finds its text in the kernel stops with an error naming it.
 * H200 (bench/README.md): no-load ran 2.4x the default's speed, half-store no faster: the global
 * loads of the staging, not the stores or the tensor cores, bound the kernel. (A variant that
 * dropped the staging loads' row and column predicates ran 20-30% faster: the kernel now clamps
 * rows and checks columns only where K needs it; that variant is gone with them.) (Variants tried
 * then and dropped since, recorded there: matrices straight from storage, staging through
 * subgroup-matrix stores, named staging registers, loads two steps ahead.)
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
    variants: { type: 'string', default: 'base,no-load,no-store,no-mma' },
    configs: { type: 'string' }, // JSON array of extra configs to time as `base`
    cases: { type: 'string' },
  },
});

type Variant = 'base' | 'no-store' | 'no-mma' | 'no-load' | 'half-store' | 'load-after' | 'storage-barrier' | 'load-early';

function replaceOnce(src: string, from: string, to: string): string {
  const i = src.indexOf(from);
  if (i < 0) throw new Error(`probe transform: '${from.slice(0, 60)}' not found`);
  return src.slice(0, i) + to + src.slice(i + from.length);
}

function replaceAll(src: string, from: string, to: string): string {
  if (!src.includes(from)) throw new Error(`probe transform: '${from.slice(0, 60)}' not found`);
  return src.split(from).join(to);
}

// The single-buffer (DB = 0) K loop of shaders/matmul-tensor.wgsl, as the transforms find it
const LOOP_HEAD = 'for (var k0 = kr.x; k0 < kr.y; k0 += BK) {\n      tc_store(lid, &st, 0u);';
const STEP = 'tc_step(acc, lid, 0u, 0u);';
const LOAD_NEXT = 'if (k0 + BK < kr.y) { st = tc_load(wid, lid, k0 + BK, kr.y); }';
const STEP_BARRIER = 'tc_step(acc, lid, 0u, 0u);\n      workgroupBarrier();';

function transform(src: string, v: Variant): string {
  switch (v) {
    case 'base':
      return src;
    case 'no-store':
      return replaceOnce(src, LOOP_HEAD, 'tc_store(lid, &st, 0u);\n    for (var k0 = kr.x; k0 < kr.y; k0 += BK) {');
    case 'no-mma':
      return replaceOnce(src, STEP, '');
    case 'no-load':
      return replaceOnce(src, LOAD_NEXT, '');
    case 'half-store':
      return replaceAll(replaceAll(src, 'xt[o + 2u] = h.z;', ''), 'wt[o + 2u] = h.z;', '');
    case 'load-after':
      return replaceOnce(replaceOnce(src, LOAD_NEXT, ''), STEP, `${STEP}\n      ${LOAD_NEXT}`);
    case 'storage-barrier':
      return replaceOnce(src, STEP_BARRIER, `${STEP}\n      storageBarrier();\n      workgroupBarrier();`);
    case 'load-early':
      return replaceOnce(
        src,
        `${LOOP_HEAD}\n      workgroupBarrier();\n      ${LOAD_NEXT}`,
        'for (var k0 = kr.x; k0 < kr.y; k0 += BK) {\n      var nx = st;\n      if (k0 + BK < kr.y) { nx = tc_load(wid, lid, k0 + BK, kr.y); }\n      tc_store(lid, &st, 0u);\n      workgroupBarrier();\n      st = nx;',
      );
  }
}

function variantSpec(v: Variant): KernelSpec<MatmulShape, MatmulTensorConfig> {
  return {
    ...matmulTensorSpec,
    id: `${matmulTensorSpec.id}.probe-${v}`,
    build: (shape, cfg, dev) => {
      const b = matmulTensorSpec.build(shape, cfg, dev);
      return { ...b, source: transform(b.source, v) };
    },
  };
}

const ALL_CASES: [string, MatmulWeightFormat, number, number, number, boolean?][] = [
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
  ['q_proj', 'q4_0', 4096, 4096, 4096],
  ['gate_proj', 'q4_0', 4096, 14336, 4096],
  ['down_proj', 'q4_0', 512, 4096, 14336],
  ['qkv', 'q4_0', 512, 6144, 4096],
  ['q_proj', 'q4_0', 256, 4096, 4096],
  ['down_proj', 'f16', 512, 4096, 14336],
  ['q_proj', 'q4_0', 1024, 4096, 4096],
  ['gate_up', 'q4_0', 512, 28672, 4096],
  ['gate_up+glu', 'q4_0', 512, 28672, 4096, true], // with the SwiGLU epilogue (MatmulShape.glu)
  // a prompt chunk's q|k|v and gate|up over the f16 copy of quantized W (RunnerOptions.prefillDequant)
  ['qkv', 'f16', 512, 6144, 4096],
  ['gate_up+glu', 'f16', 512, 28672, 4096, true],
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
  for (const [name, weight, M, N, K, glu] of CASES) {
    const shape: MatmulShape = { act: 'f16', weight, M, N, K, bias: false, ...(glu ? { glu } : {}) };
    const w = uploadWeights(ctx, weight, N, K, 1);
    const x = uploadActivations(ctx, 'f16', M, K, 1);
    const dflt = matmulTensorSpec.defaultConfig(shape, dev);
    let reference: Uint16Array | undefined;
    const runs: [Variant, MatmulTensorConfig][] = [...variants.map((v) => [v, dflt] as [Variant, MatmulTensorConfig]), ...extra.map((c) => ['base', c] as [Variant, MatmulTensorConfig])];
    for (const [v, cfg] of runs) {
      const y = createBuffer(ctx, M * N * 2, 'probe:y');
      try {
        const kd = await KernelDispatch.create(ctx, variantSpec(v), shape, cfg, { x, y, w: { buffer: w.buffer, offset: 0, size: Math.ceil(w.bytes / 4) * 4 } });
        const t = (await steadyTime(timer, (pass) => kd.encode(pass))).ms;
        const out = new Uint16Array(await readBuffer(ctx, y));
        let diff: number | undefined;
        if (v === 'base' && cfg === dflt) reference = out;
        else if (v === 'base' && reference)
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
