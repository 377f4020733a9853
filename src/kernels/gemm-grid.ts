/**
 * How the two GEMMs (matmul.gemm, matmul.tensor) lay out their grid (shaders/lib/gemm-grid.wgsl):
 * the order of the tiles (across N first, or down M first so that the workgroups in flight share
 * W's blocks), and split-K: where M x N gives too few workgroups to fill the GPU (short prompts,
 * batch decode past the GEMV, narrow projections such as k_proj), the grid also splits K; each
 * slice writes an f32 partial tile to a scratch buffer and a second dispatch of the same program
 * sums the slices.
 */
import gridSource from '../../shaders/lib/gemm-grid.wgsl?raw';
import type { DeviceInfo } from '../gpu/device-info.js';
import { matmulBindings, matmulEntryPoint, type MatmulShape } from './matmul-common.js';
import type { BindingDecl, KernelLaunch } from './spec.js';

export const GEMM_GRID_SOURCE = gridSource;

/** The GEMMs' uniforms: the matmul's sizes and KC, the K columns of one split. */
export const GEMM_UNIFORMS = { M: 'u32', N: 'u32', K: 'u32', KC: 'u32' } as const;

/** Splits the tuner tries. */
export const SPLIT_KS: readonly number[] = [1, 2, 4, 8];

/** Fewest K columns a split should keep: below that, the reduction's traffic outweighs the gain. */
const MIN_SPLIT_COLUMNS = 256;

/** The matmul bindings plus the partial sums (scratch: the launcher allocates them). */
export function gemmBindings(shape: MatmulShape): BindingDecl[] {
  return [...matmulBindings(shape), { name: 'part', binding: 6, kind: 'storage', scratch: true }];
}

/** K columns per split: whole steps of `stepK` columns, so that no step straddles two slices. */
function splitColumns(K: number, split: number, stepK: number): number {
  return Math.ceil(K / split / stepK) * stepK;
}

/** Entry points: the GEMM writes y itself, or partial tiles that `then` sums (bias there). */
export function gemmEntryPoints(shape: MatmulShape, cfg: GemmGridConfig): { entryPoint: string; then?: string } {
  if (shape.glu) return { entryPoint: 'main_glu' }; // (never split: the epilogue needs whole sums)
  if ((cfg.splitK ?? 1) <= 1) return { entryPoint: matmulEntryPoint(shape) };
  return { entryPoint: 'main_split', then: shape.bias ? 'reduce_split_bias' : 'reduce_split' };
}

/** The grid's tunables: split-K slices and the tile order (absent: 1 and across N first). */
export interface GemmGridConfig {
  splitK?: number;
  /** 1: the grid walks down M first (tile_of in gemm-grid.wgsl) */
  mFast?: number;
}

/**
 * The generated consts of gemm-grid.wgsl, and K_TAIL for the kernel's K loop: 1 where K is not a
 * whole number of `stepK`-column steps (then the last step's columns past K must load as zeros;
 * otherwise no step of a non-empty slice reaches past its end, the slices being whole steps).
 */
export function gemmGridConsts(cfg: GemmGridConfig, K: number, stepK: number): Record<string, number> {
  return { SPLIT: cfg.splitK ?? 1, M_FAST: cfg.mFast ?? 0, K_TAIL: K % stepK === 0 ? 0 : 1 };
}

/** Tiles of y across N and down M, for (bm x bn)-sized tiles. */
function tileCounts(shape: MatmulShape, bm: number, bn: number): [number, number] {
  return [Math.ceil(shape.N / bn), Math.ceil(shape.M / bm)];
}

/** Workgroups of one K slice: every tile of y. */
export function gridTiles(shape: MatmulShape, bm: number, bn: number): number {
  const [nTiles, mTiles] = tileCounts(shape, bm, bn);
  return nTiles * mTiles;
}

/** The launch of a GEMM of (bm x bn)-sized tiles that steps K by stepK. */
export function gemmLaunch(shape: MatmulShape, cfg: GemmGridConfig, bm: number, bn: number, stepK: number): KernelLaunch {
  const s = Math.max(1, cfg.splitK ?? 1);
  const [nTiles, mTiles] = tileCounts(shape, bm, bn);
  return {
    grid: cfg.mFast === 1 ? [mTiles, nTiles, s] : [nTiles, mTiles, s],
    uniforms: { M: shape.M, N: shape.N, K: shape.K, KC: s > 1 ? splitColumns(shape.K, s, stepK) : shape.K },
    ...(s > 1 ? { thenGrid: [Math.ceil(shape.N / 64), shape.M, 1] as [number, number, number] } : {}),
  };
}

function splitScratchBytes(shape: MatmulShape, split: number): Record<string, number> {
  return split > 1 ? { part: split * shape.M * shape.N * 4 } : {};
}

/** What both GEMM specs take from here as they are: uniforms, bindings, scratch sizes. */
export const GEMM_GRID_SPEC_PARTS = {
  uniforms: GEMM_UNIFORMS,
  bindings: gemmBindings,
  scratchBytes: (shape: MatmulShape, cfg: GemmGridConfig) => splitScratchBytes(shape, cfg.splitK ?? 1),
};

/** Whether the config's split suits this shape here. */
export function gridFits(shape: MatmulShape, cfg: GemmGridConfig, dev: DeviceInfo): boolean {
  return splitFits(shape, cfg.splitK ?? 1, dev);
}

/** Whether `split` suits this shape here: enough K per slice, partials within one binding. */
function splitFits(shape: MatmulShape, split: number, dev: DeviceInfo): boolean {
  if (split <= 1) return true;
  return shape.K / split >= MIN_SPLIT_COLUMNS && split * shape.M * shape.N * 4 <= dev.limits.maxStorageBufferBindingSize && shape.M <= dev.limits.maxComputeWorkgroupsPerDimension;
}

/**
 * The default split for a grid of `tiles` workgroups: the fewest slices (up to maxSplit) that
 * give about `target` workgroups, 1 where the grid already has them.
 */
export function defaultSplit(shape: MatmulShape, tiles: number, dev: DeviceInfo, target: number, maxSplit: number): number {
  let split = 1;
  while (tiles * split < target && split < maxSplit && splitFits(shape, split * 2, dev)) split *= 2;
  return split;
}
