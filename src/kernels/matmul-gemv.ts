import { grid1d } from '../gpu/grid.js';
import type { DeviceInfo } from '../gpu/device-info.js';
import source from '../../shaders/matmul-gemv.wgsl?raw';
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
  matmulTolerance,
  type MatmulShape,
} from './matmul-common.js';
import { constsWgsl, MATMUL_LIB_SOURCES, weightLibs, xLib } from './matmul-formats.js';
import type { KernelSpec } from './spec.js';
import { composeWgsl } from './wgsl.js';

/** Tunables of the decode path (see shaders/matmul-gemv.wgsl). */
export interface MatmulGemvConfig {
  /** invocations per workgroup, splitting K (power of two) */
  wg: number;
  /** rows of W (outputs) per workgroup */
  rows: number;
  /** rows of x per pass over W */
  mb: number;
  /** consecutive packs (8 weights each) per invocation per step */
  ppt: number;
  reduce: 'plain' | 'subgroup';
}

const ROWS = [1, 2, 4];
const MBS = [1, 2, 4, 8];
const PPTS = [1, 2, 4];

function scratchBytes(cfg: MatmulGemvConfig): number {
  return 4 * cfg.rows * cfg.mb * (cfg.reduce === 'plain' ? cfg.wg : Math.ceil(cfg.wg / 4));
}

export const matmulGemvSpec: KernelSpec<MatmulShape, MatmulGemvConfig> = {
  id: 'matmul.gemv',
  sources: [source, reducePlain, reduceSubgroup, ...MATMUL_LIB_SOURCES],
  uniforms: MATMUL_UNIFORMS,
  bindings: matmulBindings,

  supports(shape, dev) {
    return matmulShapeErrors(shape, dev);
  },

  space(shape, dev) {
    const reduces: MatmulGemvConfig['reduce'][] = dev.features.subgroups ? ['plain', 'subgroup'] : ['plain'];
    // More rows of x per pass than M only repeats work.
    const mbs = MBS.filter((mb) => mb <= bucket(shape.M));
    const out: MatmulGemvConfig[] = [];
    for (const wg of workgroupSizes(dev, 32, 256)) {
      for (const rows of ROWS) {
        for (const mb of mbs) {
          for (const ppt of PPTS) {
            for (const reduce of reduces) {
              const cfg = { wg, rows, mb, ppt, reduce };
              if (scratchBytes(cfg) <= dev.limits.maxComputeWorkgroupStorageSize) out.push(cfg);
            }
          }
        }
      }
    }
    return out;
  },

  defaultConfig(shape: MatmulShape, dev: DeviceInfo) {
    // Block formats read few bytes per pack: a whole 32-block (4 packs) per invocation per step
    // keeps enough loads in flight. About 4 packs (32 weights) per invocation per row in all.
    const ppt = shape.weight === 'f32' || shape.weight === 'f16' ? 1 : 4;
    const wg = Math.min(256, Math.max(32, bucket(Math.ceil(shape.K / 32))), dev.limits.maxComputeInvocationsPerWorkgroup);
    return {
      wg,
      // Short rows (small K) give each workgroup little work: take more rows per workgroup so
      // that per-workgroup overhead does not dominate (it does on CPU Vulkan implementations).
      rows: shape.N >= 4096 ? (shape.K <= 1024 ? 4 : 2) : 1,
      mb: Math.min(4, bucket(shape.M)),
      ppt,
      reduce: dev.features.subgroups ? 'subgroup' : 'plain',
    };
  },

  build(shape, cfg) {
    return {
      source: composeWgsl(source, {
        act: shape.act,
        uniforms: MATMUL_UNIFORMS,
        enables: cfg.reduce === 'subgroup' ? ['subgroups'] : [],
        libs: [
          constsWgsl({ ROWS: cfg.rows, MB: cfg.mb, PPT: cfg.ppt }),
          xLib(shape.K),
          ...weightLibs(shape.weight, shape.K),
          cfg.reduce === 'subgroup' ? reduceSubgroup : reducePlain,
        ],
      }),
      entryPoint: matmulEntryPoint(shape),
      constants: { WG: cfg.wg },
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
