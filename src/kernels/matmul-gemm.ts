import source from '../../shaders/matmul-gemm.wgsl?raw';
import {
  MATMUL_UNIFORMS,
  matmulBindings,
  matmulEntryPoint,
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
import type { KernelSpec } from './spec.js';
import { composeWgsl } from './wgsl.js';

/** Tunables of the tiled GEMM (see shaders/matmul-gemm.wgsl). */
export interface MatmulGemmConfig {
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
    Math.ceil(shape.M / cfg.bm) <= dev.limits.maxComputeWorkgroupsPerDimension
  );
}

export const matmulGemmSpec: KernelSpec<MatmulShape, MatmulGemmConfig> = {
  id: 'matmul.gemm',
  sources: [source, ...MATMUL_LIB_SOURCES],
  uniforms: MATMUL_UNIFORMS,
  bindings: matmulBindings,

  supports(shape, dev) {
    const reasons = matmulShapeErrors(shape, dev);
    if (Math.ceil(shape.N / 16) > dev.limits.maxComputeWorkgroupsPerDimension) reasons.push(`N = ${shape.N} needs more workgroups than one grid dimension allows`);
    return reasons;
  },

  space(shape, dev) {
    // Tiles taller than M (rounded up) only compute rows that are thrown away.
    const maxBm = Math.max(16, bucket(shape.M));
    return TILES.filter(([bm]) => bm <= maxBm)
      .flatMap(([bm, bn, tm, tn]) => BKS.map((bk) => ({ bm, bn, bk, tm, tn })))
      .filter((c) => fits(c, shape, dev));
  },

  defaultConfig(shape, dev) {
    // Small M: short tiles, so fewer rows of x are computed and thrown away. Larger M: the
    // largest tile (most reuse per staged word) that still gives the GPU a few hundred
    // workgroups, so that every multiprocessor has more than one to switch between.
    const candidates: [number, number, number, number][] =
      shape.M <= 16 ? [[16, 64, 4, 4]] : shape.M <= 32 ? [[32, 64, 4, 4]] : [[128, 128, 8, 8], [64, 128, 4, 8], [64, 64, 4, 4], [32, 64, 4, 4]];
    const tiles = (bm: number, bn: number) => Math.ceil(shape.N / bn) * Math.ceil(shape.M / bm);
    const [bm, bn, tm, tn] = candidates.find(([bm, bn]) => tiles(bm, bn) >= 256) ?? candidates[candidates.length - 1]!;
    const cfg = { bm, bn, bk: 16, tm, tn };
    if (fits(cfg, shape, dev)) return cfg;
    return { bm: 32, bn: 32, bk: 8, tm: 4, tn: 4 };
  },

  build(shape, cfg) {
    return {
      source: composeWgsl(source, {
        act: shape.act,
        uniforms: MATMUL_UNIFORMS,
        libs: [constsWgsl({ BM: cfg.bm, BN: cfg.bn, BK: cfg.bk, TM: cfg.tm, TN: cfg.tn }), xLib(shape.K), ...weightLibs(shape.weight, shape.K)],
      }),
      entryPoint: matmulEntryPoint(shape),
      constants: {},
    };
  },

  dispatch(shape, cfg) {
    return {
      grid: [Math.ceil(shape.N / cfg.bn), Math.ceil(shape.M / cfg.bm), 1],
      uniforms: { M: shape.M, N: shape.N, K: shape.K },
    };
  },

  problemKey: matmulProblemKey,
  outputs: () => ['y'],
  makeInputs: matmulMakeInputs,
  reference: matmulReference,
  tolerance: (shape) => matmulTolerance(shape),
};
