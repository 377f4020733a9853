import source from '../../shaders/matmul-tensor.wgsl?raw';
import type { DeviceInfo, SubgroupMatrixConfig } from '../gpu/device-info.js';
import {
  matmulMakeInputs,
  matmulProblemKey,
  matmulReference,
  matmulShapeErrors,
  matmulTolerance,
  type MatmulShape,
} from './matmul-common.js';
import { constsWgsl, MATMUL_LIB_SOURCES, TENSOR_HALF_LIB_SOURCES, tensorHalfLibs } from './matmul-formats.js';
import { bucket } from './common.js';
import { GEMM_GRID_SOURCE, GEMM_GRID_SPEC_PARTS, SPLIT_KS, defaultSplit, gemmEntryPoints, gemmGridConsts, gemmLaunch, gridFits, gridTiles } from './gemm-grid.js';
import type { GemmGridConfig } from './gemm-grid.js';
import type { KernelSpec } from './spec.js';
import { composeWgsl } from './wgsl.js';

/** Tunables of the subgroup-matrix GEMM (see shaders/matmul-tensor.wgsl). */
export interface MatmulTensorConfig extends GemmGridConfig {
  /** the subgroup-matrix shape [M, N, K]: one of the device's f16 x f16 -> f32 configs */
  mma: [number, number, number];
  /** subgroups per workgroup, as a grid over rows (sgM) and columns (sgN) of the tile */
  sgM: number;
  sgN: number;
  /** result tiles per subgroup, down (ti: 1, 2 or 4) and across (tj: 1 to 4) */
  ti: number;
  tj: number;
  /** columns of K staged per step (a multiple of mma K) */
  bk: number;
  /** halves of padding per staged row (against workgroup-memory bank conflicts) */
  pad: number;
  /** 1: two staging buffers, one barrier per step (absent: 0) */
  db?: number;
  /** producer subgroups that do all the staging while the sgM x sgN others multiply (absent: 0) */
  prod?: number;
}

/** Invocations per workgroup at this subgroup size. */
export function tensorWorkgroupSize(cfg: MatmulTensorConfig, subgroupSize: number): number {
  return subgroupSize * (cfg.sgM * cfg.sgN + (cfg.prod ?? 0));
}

/** The device's subgroup-matrix configs this kernel can use: f16 operands, f32 results. */
export function tensorMmaShapes(dev: DeviceInfo): [number, number, number][] {
  return dev.subgroupMatrixConfigs
    .filter((c: SubgroupMatrixConfig) => c.componentType === 'f16' && c.resultComponentType === 'f32')
    .map((c) => [c.M, c.N, c.K] as [number, number, number]);
}

/** Tile of y per workgroup, and the workgroup memory it stages. */
export function tensorTile(cfg: MatmulTensorConfig): { bm: number; bn: number; sharedBytes: number } {
  const [sm, sn] = cfg.mma;
  const bm = cfg.sgM * cfg.ti * sm;
  const bn = cfg.sgN * cfg.tj * sn;
  const sharedBytes = (1 + (cfg.db ?? 0)) * (bm + bn) * (cfg.bk + cfg.pad) * 2 + cfg.sgM * cfg.sgN * sm * sn * 4;
  return { bm, bn, sharedBytes };
}

/**
 * Whether the config can run the SwiGLU epilogue (MatmulShape.glu): each subgroup's result tiles
 * across come in (gate, up) pairs (even TJ), and K is not split (the activation needs whole sums).
 * Through `fits`, the space and the defaults hold only such configs for glu shapes.
 */
function gluFits(cfg: MatmulTensorConfig): boolean {
  return cfg.tj % 2 === 0 && (cfg.splitK ?? 1) === 1;
}

function fits(cfg: MatmulTensorConfig, shape: MatmulShape, dev: DeviceInfo): boolean {
  const t = tensorTile(cfg);
  const wg = tensorWorkgroupSize(cfg, dev.subgroupMaxSize);
  return (
    (!shape.glu || gluFits(cfg)) &&
    cfg.bk % cfg.mma[2] === 0 &&
    wg <= dev.limits.maxComputeInvocationsPerWorkgroup &&
    wg <= dev.limits.maxComputeWorkgroupSizeX &&
    t.sharedBytes <= dev.limits.maxComputeWorkgroupStorageSize &&
    Math.ceil(shape.N / t.bn) <= dev.limits.maxComputeWorkgroupsPerDimension &&
    Math.ceil(shape.M / t.bm) <= dev.limits.maxComputeWorkgroupsPerDimension &&
    gridFits(shape, cfg, dev)
  );
}

function tensorTiles(shape: MatmulShape, cfg: MatmulTensorConfig): number {
  const t = tensorTile(cfg);
  return gridTiles(shape, t.bm, t.bn);
}

const SUBGROUP_GRIDS: readonly [number, number][] = [
  [1, 1],
  [2, 2],
  [4, 2],
  [2, 4],
  [1, 4],
];
const TILES_PER_SUBGROUP: readonly [number, number][] = [
  [2, 2],
  [4, 2],
  [2, 4],
  [4, 4],
  [2, 1],
  [2, 3],
];

/**
 * Producer subgroups of the defaults for Q4_0 W (`takesProducers`), beside their 8 multiplying ones. H200,
 * Llama-3.1-8B Q4_0 shapes at M = 512, bench/tensor-probe.ts, same call, TFLOP/s with 0 / 8
 * producers: gate|up 28672 x 4096 150.5 / 157.3, down_proj 4096 x 14336 160.1 / 167.8, gate_proj
 * 136.7 / 138.1; 2, 4, 12 or 16 producers ran slower than none (at 12 and 16 about 0.7x and 0.3x).
 */
const PROD_Q = 8;

/**
 * Whether the defaults take producer subgroups: Q4_0, whose block units (tensor-w-q4_0.wgsl) keep
 * a producer's loads few. Formats staged a quad per unit load 4-8x as many words per producer:
 * Q8_0 q_proj at M = 512 ran 156.5 TFLOP/s without producers and 75.2 with them (H200).
 */
function takesProducers(shape: MatmulShape): boolean {
  return shape.weight === 'q4_0';
}

/** (db, prod) pairs of the space; producers (as many as multiply) only beside 8 subgroups. */
const DB_PROD: readonly [number, number][] = [
  [0, 0],
  [1, 0],
];
const DB_PROD_8: readonly [number, number][] = [...DB_PROD, [0, 8]];

export const matmulTensorSpec: KernelSpec<MatmulShape, MatmulTensorConfig> = {
  id: 'matmul.tensor',
  sources: [source, GEMM_GRID_SOURCE, ...MATMUL_LIB_SOURCES, ...TENSOR_HALF_LIB_SOURCES],
  ...GEMM_GRID_SPEC_PARTS,

  supports(shape, dev) {
    const reasons = matmulShapeErrors(shape, dev, { glu: true });
    if (!dev.features.subgroupMatrix) reasons.push("needs the adapter feature 'chromium-experimental-subgroup-matrix'");
    else if (tensorMmaShapes(dev).length === 0) reasons.push('the adapter has no f16 x f16 -> f32 subgroup-matrix config');
    if (!dev.features.f16) reasons.push("needs 'shader-f16' (the staged tiles are f16)");
    if (!dev.features.subgroups) reasons.push("needs 'subgroups'");
    // Subgroup offsets come from local_invocation_index / SG_SIZE: the size must be known.
    if (dev.subgroupMinSize !== dev.subgroupMaxSize || dev.subgroupMaxSize === 0) {
      reasons.push(`needs a fixed subgroup size (this adapter has ${dev.subgroupMinSize}..${dev.subgroupMaxSize})`);
    }
    return reasons;
  },

  space(shape, dev) {
    const out: MatmulTensorConfig[] = [];
    for (const mma of tensorMmaShapes(dev)) {
      for (const [sgM, sgN] of SUBGROUP_GRIDS) {
        for (const [ti, tj] of TILES_PER_SUBGROUP) {
          for (const bk of [32, 64, 128]) {
            for (const pad of [0, 8]) {
              for (const [db, prod] of sgM * sgN === 8 && pad === 8 ? DB_PROD_8 : DB_PROD) {
                const cfg = prod ? { mma, sgM, sgN, ti, tj, bk, pad, db, prod } : { mma, sgM, sgN, ti, tj, bk, pad, db };
                // Tiles much taller than M (rounded up) mostly compute rows that are thrown away
                // (up to twice: the default's 128-row tile, split in K, wins at 64 rows).
                if (tensorTile(cfg).bm > Math.max(32, 2 * bucket(shape.M))) continue;
                // Split-K only where the tiles alone leave the GPU short of workgroups.
                for (const splitK of tensorTiles(shape, cfg) < 512 ? SPLIT_KS : [1]) {
                  const c = splitK > 1 ? { ...cfg, splitK } : cfg;
                  // (mFast, the tile order, stays out: on the H200 it moved these configs by
                  // a few percent either way, and doubling this space doubles the tuner's time)
                  if (fits(c, shape, dev)) out.push(c);
                }
              }
            }
          }
        }
      }
    }
    return out;
  },

  defaultConfig(shape, dev) {
    const shapes = tensorMmaShapes(dev);
    const mma = shapes.find(([m, n, k]) => m === 16 && n === 16 && k === 16) ?? shapes[0] ?? [16, 16, 16];
    // H200, Llama-3.1-8B shapes at M = 4096, tiles staged as f16 straight from the readers: this
    // (128 x 128 tiles, 4 subgroups of 4 x 4 16x16 tiles) ran f16 weights at 91-96 TFLOP/s and
    // Q4_0 at 47-51 (52 and 38 when staging went through f32).
    const big = { mma, sgM: 2, sgN: 2, ti: 4, tj: 4, bk: 32, pad: 8, db: 0 };
    const square = { mma, sgM: 2, sgN: 4, ti: 4, tj: 2, bk: 64, pad: 8, db: 0 };
    // Q4_0 at M >= 1024: `square` (below) with producers beat `big` (H200, bench/tensor-probe.ts,
    // same call: q_proj 4096 x 4096 at M = 4096 152.2 -> 158.6 TFLOP/s)
    if (shape.M >= 1024 && takesProducers(shape) && fits({ ...square, prod: PROD_Q }, shape, dev)) return { ...square, prod: PROD_Q };
    if (shape.M >= 1024 && fits(big, shape, dev)) return big;
    // H200, Llama-3.1-8B Q4_0 shapes at M = 512, best of the 16x16x16 configs: 8 subgroups of 2 x 2
    // tiles (128 x 64 per workgroup), 32-column K steps: 53-54 TFLOP/s where the 4-subgroup 64 x 64
    // tiles below ran 29-35 (more workgroups and more warps per SM to hide the staging).
    const mid = { mma, sgM: 4, sgN: 2, ti: 2, tj: 2, bk: 32, pad: 8, db: 0 };
    // Without Dawn's bounds clamps (Node's default), H200, Q4_0 at M = 512, same call: 8
    // subgroups of 4 x 4 tiles (256 x 128 per workgroup) ran gate_proj 14336 x 4096 at 95
    // TFLOP/s against 86 for `mid` (best of the 16x16x16 configs; `mid` stayed best for q_proj
    // 4096 x 4096, where the larger tile leaves 64 workgroups): used where it still makes ~200.
    const wide = { ...mid, ti: 4, tj: 4 };
    const squareTiles = tensorTiles(shape, square);
    const wideTiles = tensorTiles(shape, wide);
    // `square` (see below) where it makes 96-128 tiles, and at M >= 512 where `wide` would make
    // >= 200: with the staging's bounds checks gone it beat `wide` on the widest projection of a
    // prompt chunk, gate|up 28672 x 4096 Q4_0 at M = 512: 157.2 against 150.9 TFLOP/s (H200,
    // bench/tensor-probe.ts, same call; q|k|v's 192 tiles stay off it: 126.3 against 128.1 for `deep`, 138.3 for `deep3` below).
    // Q4_0 W with PROD_Q producer subgroups beside the 8 that multiply (PROD in
    // shaders/matmul-tensor.wgsl): the staging's loads and dequantization overlap the products.
    const squareQ = takesProducers(shape) ? { ...square, prod: PROD_Q } : square;
    if (shape.M >= 512 && squareTiles >= 96 && (squareTiles <= 128 || wideTiles >= 200) && fits(squareQ, shape, dev)) return squareQ;
    if (shape.M >= 256 && wideTiles >= 200 && fits(wide, shape, dev)) return wide;
    // Narrower projections at a prompt chunk (M = 512), with the staging in 16-byte and 16-weight
    // units (bench/tensor-probe.ts, H200, same call, TFLOP/s against `mid`): 8 subgroups of 4 x 2
    // tiles (128 x 128) and 64-column K steps where that makes ~128 tiles: q_proj / o_proj 4096 x
    // 4096 Q4_0 113.6 -> 142.0, f16 117.5 -> 144.6, down_proj 4096 x 14336 Q4_0 112.3 -> 122.7,
    // f16 121.9 -> 156.1; `mid` in 64-column steps where it makes >= 128 tiles: q|k|v 6144 x 4096
    // Q4_0 86.7 -> 121.1 (the 128 x 128 tile: 108.2), q_proj at M = 256 94.1 (split in 2) -> 120.4.
    // (k_proj 1024 x 4096 at M = 512 keeps `mid` split in 4: 84.9, unsplit 64-column `mid` 60.2;
    // down_proj's K = 14336 ran 64-column `mid` slower, 97.8, so that one is for K <= 8192.)
    const deep = { ...mid, bk: 64 };
    // (and 3 result tiles across per subgroup, 128 x 96, where N is a whole number of those: the
    // q|k|v of Llama-3.1-8B, 6144 x 4096 Q4_0 at M = 512, 128.9 -> 138.3 TFLOP/s, bench/tensor-probe.ts,
    // same call: 256 workgroups where 128 x 128 made 192, 1.45 waves of the H200's 132 SMs)
    // (with producers for Q4_0 W: 130.4 -> 137.4 on that shape, bench/tensor-probe.ts, same call)
    const deep3 = takesProducers(shape) ? { ...deep, tj: 3, prod: PROD_Q } : { ...deep, tj: 3 };
    if (shape.M >= 256 && shape.K <= 8192 && shape.N % 96 === 0 && tensorTiles(shape, deep3) >= 128 && fits(deep3, shape, dev)) return deep3;
    if (shape.M >= 256 && shape.K <= 8192 && tensorTiles(shape, deep) >= 128 && fits(deep, shape, dev)) return deep;
    // Fewer tiles than that (short prompts, batch decode past the GEMV, narrow projections): the
    // K loop's memory trips are not hidden by enough workgroups, so `mid` splits K until the grid
    // has ~256 workgroups (bench/tensor-probe.ts, H200, Q4_0, same call, against the narrower
    // tiles used before: q_proj 4096 x 4096 at M = 128 0.130 -> 0.054 ms, M = 64 0.080 -> 0.049;
    // k_proj 1024 x 4096 at M = 512 0.095 -> 0.054; down_proj 4096 x 14336 at M = 128 0.481 ->
    // 0.180; gate_proj 14336 x 4096 at M = 128 0.358 -> 0.219). Wasted rows (M = 64 in a
    // 128-row tile) cost less than the workgroups they buy.
    const splitK = defaultSplit(shape, tensorTiles(shape, mid), dev, 256, 8);
    const midSplit = splitK > 1 ? { ...mid, splitK } : mid;
    // (defaultSplit only picks splits that fit: midSplit fits wherever mid does)
    if (fits(midSplit, shape, dev)) return midSplit;
    // (glu shapes, where midSplit's split does not fit: unsplit)
    if (fits(mid, shape, dev)) return mid;
    return { mma, sgM: 2, sgN: 2, ti: 2, tj: 2, bk: 64, pad: 8, db: 0 };
  },

  build(shape, cfg, dev) {
    const [sm, sn, sk] = cfg.mma;
    return {
      source: composeWgsl(source, {
        act: shape.act,
        uniforms: GEMM_GRID_SPEC_PARTS.uniforms,
        enables: ['f16', 'subgroups', 'chromium_experimental_subgroup_matrix'],
        libs: [
          constsWgsl({ SM: sm, SN: sn, SK: sk, SG_M: cfg.sgM, SG_N: cfg.sgN, TI: cfg.ti, TJ: cfg.tj, BK: cfg.bk, SG_SIZE: dev.subgroupMaxSize, DB: cfg.db ?? 0, PROD: cfg.prod ?? 0, GLU: shape.glu ? 1 : 0, ...gemmGridConsts(cfg, shape.K, cfg.bk) }),
          ...tensorHalfLibs(shape.act, shape.weight, shape.K, shape.M),
          GEMM_GRID_SOURCE,
        ],
      }),
      ...gemmEntryPoints(shape, cfg),
      constants: { PAD: cfg.pad },
    };
  },

  dispatch(shape, cfg) {
    const t = tensorTile(cfg);
    return gemmLaunch(shape, cfg, t.bm, t.bn, cfg.bk);
  },

  problemKey: matmulProblemKey,
  outputs: () => ['y'],
  makeInputs: matmulMakeInputs,
  reference: matmulReference,
  tolerance: (shape) => matmulTolerance(shape, true),
};
