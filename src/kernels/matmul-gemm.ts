import source from '../../shaders/matmul-gemm.wgsl?raw';
import {
  matmulMakeInputs,
  matmulProblemKey,
  matmulReference,
  matmulShapeErrors,
  matmulTolerance,
  type MatmulShape,
} from './matmul-common.js';
import { constsWgsl, MATMUL_LIB_SOURCES, weightLibs, xLib } from './matmul-formats.js';
import type { DeviceInfo } from '../gpu/device-info.js';
import { bucket } from './common.js';
import { GEMM_GRID_SOURCE, GEMM_GRID_SPEC_PARTS, SPLIT_KS, defaultSplit, gemmEntryPoints, gemmGridConsts, gemmLaunch, gridFits, gridTiles } from './gemm-grid.js';
import type { GemmGridConfig } from './gemm-grid.js';
import type { KernelSpec } from './spec.js';
import { composeWgsl } from './wgsl.js';

/** Tunables of the tiled GEMM (see shaders/matmul-gemm.wgsl). */
export interface MatmulGemmConfig extends GemmGridConfig {
  /** tile rows (of x / y) per workgroup */
  bm: number;
  /** tile columns (rows of W / outputs) per workgroup */
  bn: number;
  /** columns of K staged per step (a multiple of 4) */
  bk: number;
  /** rows of the sub-tile one invocation accumulates (4 or 8) */
  tm: number;
  /** columns of the sub-tile one invocation accumulates (4 or 8) */
  tn: number;
}

/**
 * (bm, bn, tm, tn) shapes worth trying: 64 to 256 invocations, 16 to 64 accumulators each (the
 * kernel reads workgroup memory in vec4s, so tm and tn are multiples of 4).
 */
const TILES: readonly [number, number, number, number][] = [
  [16, 64, 4, 4],
  [32, 32, 4, 4],
  [32, 64, 4, 4],
  [32, 128, 4, 8],
  [64, 64, 4, 4],
  [64, 64, 8, 4],
  [64, 64, 8, 8],
  [128, 64, 8, 4],
  [64, 128, 4, 8],
  [128, 128, 8, 8],
];
const BKS = [8, 16, 32];

export function gemmWorkgroupSize(cfg: MatmulGemmConfig): number {
  return (cfg.bm / cfg.tm) * (cfg.bn / cfg.tn);
}

function fits(cfg: MatmulGemmConfig, shape: MatmulShape, dev: DeviceInfo): boolean {
  const wg = gemmWorkgroupSize(cfg);
  return (
    wg <= dev.limits.maxComputeInvocationsPerWorkgroup &&
    wg <= dev.limits.maxComputeWorkgroupSizeX &&
    (cfg.bm + cfg.bn) * cfg.bk * 4 <= dev.limits.maxComputeWorkgroupStorageSize &&
    Math.ceil(shape.N / cfg.bn) <= dev.limits.maxComputeWorkgroupsPerDimension &&
    Math.ceil(shape.M / cfg.bm) <= dev.limits.maxComputeWorkgroupsPerDimension &&
    gridFits(shape, cfg, dev)
  );
}

export const matmulGemmSpec: KernelSpec<MatmulShape, MatmulGemmConfig> = {
  id: 'matmul.gemm',
  sources: [source, GEMM_GRID_SOURCE, ...MATMUL_LIB_SOURCES],
  ...GEMM_GRID_SPEC_PARTS,

  supports(shape, dev) {
    const reasons = matmulShapeErrors(shape, dev);
    if (Math.ceil(shape.N / 16) > dev.limits.maxComputeWorkgroupsPerDimension) reasons.push(`N = ${shape.N} needs more workgroups than one grid dimension allows`);
    return reasons;
  },

  space(shape, dev) {
    // Tiles taller than M (rounded up) only compute rows that are thrown away.
    const maxBm = Math.max(16, bucket(shape.M));
    // Split-K only where the tiles alone leave the GPU short of workgroups.
    return TILES.filter(([bm]) => bm <= maxBm)
      .flatMap(([bm, bn, tm, tn]) => BKS.map((bk) => ({ bm, bn, bk, tm, tn })))
      .flatMap((c) => (gridTiles(shape, c.bm, c.bn) < 512 ? SPLIT_KS.map((splitK) => (splitK > 1 ? { ...c, splitK } : c)) : [c]))
      .flatMap((c) => [c, { ...c, mFast: 1 }])
      .filter((c) => fits(c, shape, dev));
  },

  defaultConfig(shape, dev) {
    // Small M: short tiles, so fewer rows of x are computed and thrown away. Larger M: 64 x 128
    // tiles, K split (up to 4 ways) until there are ~256 workgroups, walking down M first where M
    // is short (the workgroups in flight then share W's blocks). H200, f16 weights, TFLOP/s
    // (`bench/matmul.js --tune`, same call): at M = 4096, 64 x 128 tiles 28.2-28.4 where 128 x 128
    // ran 26.5-26.8; at M = 512, k_proj 1024 x 4096 (64 tiles) 26.0 in 4 slices (12.4 with the
    // 32 x 64 tiles that reached 256 workgroups unsplit), gate_proj 14336 x 4096 24.6 -> 26.2 and
    // lm_head 128256 x 4096 26.7 (128 x 128) -> 29.1 walking down M first.
    const candidates: [number, number, number, number][] =
      shape.M <= 16 ? [[16, 64, 4, 4]] : shape.M <= 32 ? [[32, 64, 4, 4]] : [[64, 128, 4, 8], [64, 64, 4, 4], [32, 64, 4, 4]];
    const mFast = shape.M > 32 && shape.M <= 1024 ? { mFast: 1 } : {};
    for (const [bm, bn, tm, tn] of candidates) {
      const tiles = gridTiles(shape, bm, bn);
      const splitK = shape.M > 32 ? defaultSplit(shape, tiles, dev, 256, 4) : 1;
      const cfg = { bm, bn, bk: 16, tm, tn, ...(splitK > 1 ? { splitK } : {}), ...mFast };
      if (fits(cfg, shape, dev)) return cfg;
    }
    return { bm: 32, bn: 32, bk: 8, tm: 4, tn: 4 };
  },

  build(shape, cfg) {
    return {
      source: composeWgsl(source, {
        act: shape.act,
        uniforms: GEMM_GRID_SPEC_PARTS.uniforms,
        libs: [
          constsWgsl({ BM: cfg.bm, BN: cfg.bn, BK: cfg.bk, TM: cfg.tm, TN: cfg.tn, ...gemmGridConsts(cfg, shape.K, cfg.bk) }),
          xLib(shape.K),
          ...weightLibs(shape.weight, shape.K),
          GEMM_GRID_SOURCE,
        ],
      }),
      ...gemmEntryPoints(shape, cfg),
      constants: {},
    };
  },

  dispatch(shape, cfg) {
    return gemmLaunch(shape, cfg, cfg.bm, cfg.bn, cfg.bk);
  },

  problemKey: matmulProblemKey,
  outputs: () => ['y'],
  makeInputs: matmulMakeInputs,
  reference: matmulReference,
  tolerance: (shape) => matmulTolerance(shape),
};
