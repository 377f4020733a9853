import { grid1d } from '../gpu/grid.js';
import type { DeviceInfo } from '../gpu/device-info.js';
import source from '../../shaders/matmul-gemv.wgsl?raw';
import pairsSource from '../../shaders/matmul-gemv-pairs.wgsl?raw';
import gemvEntry from '../../shaders/matmul-gemv-entry.wgsl?raw';
import reducePlain from '../../shaders/matmul-reduce-plain.wgsl?raw';
import reduceSubgroup from '../../shaders/matmul-reduce-subgroup.wgsl?raw';
import { bucket, workgroupSizes } from './common.js';
import {
  MATMUL_UNIFORMS,
  matmulBindings,
  matmulEntryPoint,
  matmulMakeInputs,
  matmulProblemKey,
  matmulReference,
  matmulShapeErrors,
  gemvReduceBytes,
  matmulTolerance,
  type MatmulShape,
} from './matmul-common.js';
import { constsWgsl, GEMV_PAIR_LIBS, MATMUL_LIB_SOURCES, PAIR_WORDS, weightLibs, xLib } from './matmul-formats.js';
import type { KernelProgram, KernelSpec } from './spec.js';
import { composeWgsl } from './wgsl.js';

/**
 * Tunables of the decode path. Two kernels:
 *   'split' (shaders/matmul-gemv.wgsl): any format; invocations split K pack by pack, `rows` rows
 *     of W per workgroup, `mb` rows of x per pass, `ppt` consecutive packs per step;
 *   'pairs' (shaders/matmul-gemv-pairs.wgsl): Q4_0/Q8_0 with K % 64 == 0, one row of x per pass;
 *     W and x staged per chunk of C = wg / (rows / ppt) pairs of blocks; each invocation takes one
 *     pair for `ppt` rows of W (`mb` is 1). Where the shape does not allow it, build falls back to
 *     the split kernel with the same workgroup size and rows (same grid).
 */
export interface MatmulGemvConfig {
  mode: 'split' | 'pairs';
  /** invocations per workgroup (power of two) */
  wg: number;
  /** rows of W (outputs) per workgroup */
  rows: number;
  /** rows of x per pass over W */
  mb: number;
  /** split: consecutive packs (8 weights each) per invocation per step; pairs: rows per invocation */
  ppt: number;
  reduce: 'plain' | 'subgroup';
}

const ROWS = [1, 2, 4, 8];
const MBS = [1, 2, 4, 8];
const PPTS = [1, 2, 4];

/**
 * Whether one row of Q4_0/Q8_0 defaults to the 'pairs' kernel. Off: on the H200 it runs at
 * 0.5-1.1x the split kernel (best: wg 64, rows 8, ppt 2); it stays in the space for the tuner.
 */
const PAIRS_BY_DEFAULT = false;

/** Q4_0/Q8_0 rows of a whole number of block pairs: the 'pairs' kernel applies. */
export function gemvPairsApply(shape: MatmulShape): boolean {
  return (shape.weight === 'q4_0' || shape.weight === 'q8_0') && shape.K % 64 === 0;
}

function reduceBytes(cfg: MatmulGemvConfig): number {
  return gemvReduceBytes(cfg.mode === 'pairs' ? cfg.rows : cfg.rows * cfg.mb, cfg.wg, cfg.reduce);
}

/** Pairs of blocks per chunk (invocations per row group) of a 'pairs' config. */
function pairsChunk(cfg: MatmulGemvConfig): number {
  return cfg.wg / (cfg.rows / cfg.ppt);
}

function scratchBytes(shape: MatmulShape, cfg: MatmulGemvConfig): number {
  if (cfg.mode === 'split') return reduceBytes(cfg);
  const c = pairsChunk(cfg);
  return reduceBytes(cfg) + 4 * cfg.rows * c * PAIR_WORDS[shape.weight as 'q4_0' | 'q8_0'] + 16 * 17 * c;
}

/** The 'pairs' configs the device can run for this shape, best guesses first. */
function pairsSpace(shape: MatmulShape, dev: DeviceInfo, reduces: MatmulGemvConfig['reduce'][]): MatmulGemvConfig[] {
  const out: MatmulGemvConfig[] = [];
  const maxWg = Math.min(256, dev.limits.maxComputeInvocationsPerWorkgroup, dev.limits.maxComputeWorkgroupSizeX);
  for (const rows of [16, 8, 32, 4]) {
    for (const rl of [4, 2, 8]) {
      for (const c of [32, 16]) {
        if (rl > rows) continue;
        const wg = (c * rows) / rl;
        if (wg < 16 || wg > maxWg) continue;
        for (const reduce of reduces) {
          const cfg: MatmulGemvConfig = { mode: 'pairs', wg, rows, mb: 1, ppt: rl, reduce };
          if (scratchBytes(shape, cfg) <= dev.limits.maxComputeWorkgroupStorageSize) out.push(cfg);
        }
      }
    }
  }
  return out;
}

export const matmulGemvSpec: KernelSpec<MatmulShape, MatmulGemvConfig> = {
  id: 'matmul.gemv',
  sources: [source, pairsSource, gemvEntry, reducePlain, reduceSubgroup, ...MATMUL_LIB_SOURCES, ...Object.values(GEMV_PAIR_LIBS)],
  uniforms: MATMUL_UNIFORMS,
  bindings: matmulBindings,

  supports(shape, dev) {
    return matmulShapeErrors(shape, dev);
  },

  space(shape, dev) {
    const reduces: MatmulGemvConfig['reduce'][] = dev.features.subgroups ? ['plain', 'subgroup'] : ['plain'];
    // More rows of x per pass than M only repeats work.
    const mbs = MBS.filter((mb) => mb <= bucket(shape.M));
    const out: MatmulGemvConfig[] = gemvPairsApply(shape) && shape.M === 1 ? pairsSpace(shape, dev, reduces) : [];
    for (const wg of workgroupSizes(dev, 32, 256)) {
      for (const rows of ROWS) {
        for (const mb of mbs) {
          for (const ppt of PPTS) {
            for (const reduce of reduces) {
              const cfg: MatmulGemvConfig = { mode: 'split', wg, rows, mb, ppt, reduce };
              if (scratchBytes(shape, cfg) <= dev.limits.maxComputeWorkgroupStorageSize) out.push(cfg);
            }
          }
        }
      }
    }
    return out;
  },

  defaultConfig(shape: MatmulShape, dev: DeviceInfo): MatmulGemvConfig {
    const reduce = dev.features.subgroups ? 'subgroup' : 'plain';
    if (gemvPairsApply(shape) && shape.M === 1 && PAIRS_BY_DEFAULT) {
      // One row of x, Q4_0/Q8_0: the staged pairs kernel; 16 rows per workgroup in groups of 4
      // per invocation where workgroup memory allows, fewer rows for short outputs (more
      // workgroups in flight).
      const space = pairsSpace(shape, dev, [reduce]);
      const want = shape.N >= 4096 ? 16 : 8;
      const pick = space.find((c) => c.rows === want && c.ppt === 4) ?? space[0];
      if (pick) return pick;
    }
    // Block formats read few bytes per pack: a whole 32-block (4 packs) per invocation per step
    // keeps enough loads in flight. About 4 packs (32 weights) per invocation per row in all.
    // With several rows of x, one pack per invocation per step keeps loads coalesced and the
    // x registers (8 per row of x) few, so that W's rows reuse them.
    const quant = shape.weight !== 'f32' && shape.weight !== 'f16';
    const mb = Math.min(8, bucket(shape.M));
    const ppt = !quant ? 1 : mb > 1 ? 1 : 4;
    // Several rows of x on a block format: 64 invocations and 4 rows per workgroup measured best
    // on the H200 (Llama-3.1-8B shapes, 1.2-1.8x the 128-invocation, 2-row config).
    const few = quant && mb > 1 && shape.N >= 4096;
    const wg = few ? Math.min(64, dev.limits.maxComputeInvocationsPerWorkgroup) : Math.min(256, Math.max(32, bucket(Math.ceil(shape.K / 32))), dev.limits.maxComputeInvocationsPerWorkgroup);
    // Short rows (small K) give each workgroup little work: take more rows per workgroup so
    // that per-workgroup overhead does not dominate (it does on CPU Vulkan implementations).
    const rows = shape.N >= 4096 ? (shape.K <= 1024 || mb > 1 ? 4 : 2) : mb > 1 ? 2 : 1;
    const cfg: MatmulGemvConfig = { mode: 'split', wg, rows, mb, ppt, reduce };
    if (scratchBytes(shape, cfg) <= dev.limits.maxComputeWorkgroupStorageSize) return cfg;
    return { ...cfg, mb: Math.min(4, mb), rows: 1 };
  },

  build(shape, cfg): KernelProgram {
    const enables = cfg.reduce === 'subgroup' ? ['subgroups'] : [];
    const reduceLib = cfg.reduce === 'subgroup' ? reduceSubgroup : reducePlain;
    if (cfg.mode === 'pairs' && gemvPairsApply(shape)) {
      return {
        source: composeWgsl(pairsSource, {
          act: shape.act,
          uniforms: MATMUL_UNIFORMS,
          enables,
          libs: [
            constsWgsl({ WG: cfg.wg, ROWS: cfg.rows, RL: cfg.ppt, C: pairsChunk(cfg) }),
            xLib(shape.K),
            GEMV_PAIR_LIBS[shape.weight as 'q4_0' | 'q8_0'],
            reduceLib,
            gemvEntry,
          ],
        }),
        entryPoint: matmulEntryPoint(shape),
        constants: {},
      };
    }
    // 'split', or 'pairs' where the shape does not allow it: the split kernel with the same grid
    const split = cfg.mode === 'pairs' ? { ...cfg, mb: 1, ppt: 4 } : cfg;
    return {
      source: composeWgsl(source, {
        act: shape.act,
        uniforms: MATMUL_UNIFORMS,
        enables,
        libs: [constsWgsl({ ROWS: split.rows, MB: split.mb, PPT: split.ppt }), xLib(shape.K), ...weightLibs(shape.weight, shape.K), reduceLib, gemvEntry],
      }),
      entryPoint: matmulEntryPoint(shape),
      constants: { WG: split.wg },
    };
  },

  dispatch(shape, cfg, dev) {
    return {
      grid: grid1d(Math.ceil(shape.N / cfg.rows), dev.limits.maxComputeWorkgroupsPerDimension),
      uniforms: { M: shape.M, N: shape.N, K: shape.K },
    };
  },

  problemKey: matmulProblemKey,
  outputs: () => ['y'],
  makeInputs: matmulMakeInputs,
  reference: matmulReference,
  tolerance: (shape) => matmulTolerance(shape),
};
