import type { ActDType } from '../core/dtype.js';
import type { DeviceInfo } from '../gpu/device-info.js';
import { FAMILIES } from '../kernels/conformance.js';
import type { AnyKernelSpec } from '../kernels/spec.js';
import { configKey } from './key.js';
import type { TuneWorkload } from './resolve.js';

/**
 * What this module needs of a conformance family. A family may add `tuneShapes(act)` (the
 * shapes real models use, e.g. 4096-wide rows); without it the family's fixed shapes plus its
 * small sweep shape stand in, which cover awkward sizes and the 2-D-grid cases.
 */
interface FamilyLike {
  spec: AnyKernelSpec;
  fixed: (act: ActDType) => { label: string; shape: unknown }[];
  small: (act: ActDType) => unknown;
  tuneShapes?: (act: ActDType) => { label: string; shape: unknown }[];
}

export interface FamilyWorkloadOptions {
  acts?: ActDType[];
  /** only kernels whose id matches */
  filter?: (kernelId: string) => boolean;
  /** 'tiny': each family's small sweep shape only (tests, SwiftShader); default 'representative' */
  sizes?: 'tiny' | 'representative';
}

/**
 * The built-in conformance workloads for `wgllm tune --families` and bench/tune.ts: every
 * kernel family, each dtype path the adapter can run, one workload per distinct problem key.
 */
export function familyWorkloads(dev: DeviceInfo, opts: FamilyWorkloadOptions = {}): TuneWorkload[] {
  const acts = (opts.acts ?? ['f32', 'f16']).filter((a) => a !== 'f16' || dev.features.f16);
  const seen = new Set<string>();
  const out: TuneWorkload[] = [];
  for (const fam of FAMILIES as readonly FamilyLike[]) {
    if (opts.filter && !opts.filter(fam.spec.id)) continue;
    for (const act of acts) {
      const shapes =
        opts.sizes === 'tiny'
          ? [{ label: 'small', shape: fam.small(act) }]
          : (fam.tuneShapes?.(act) ?? [...fam.fixed(act), { label: 'small', shape: fam.small(act) }]);
      for (const { label, shape } of shapes) {
        if (fam.spec.supports(shape, dev).length) continue;
        const k = configKey(fam.spec.id, fam.spec.problemKey(shape));
        if (seen.has(k)) continue;
        seen.add(k);
        out.push({ spec: fam.spec, shape, label: `${fam.spec.id} ${act} ${label}` });
      }
    }
  }
  return out;
}
