import type { ActDType } from '../core/dtype.js';
import { uniformStructWgsl, type UniformLayout } from '../gpu/uniforms.js';
import reducePlain from '../../shaders/lib/reduce-plain.wgsl?raw';
import reduceSubgroup from '../../shaders/lib/reduce-subgroup.wgsl?raw';

/**
 * Assembles a kernel's complete WGSL text. This is the ONLY place where shader text is
 * substituted, and it only prepends a prelude:
 *   - `enable` directives (f16, subgroups, ...),
 *   - `alias act_t = f32 | f16;` (the activation storage type),
 *   - the `Params` uniform struct generated from the spec's UniformLayout,
 *   - optional libraries (the workgroup reduction, plain or subgroup flavour).
 * Each shaders/<family>.wgsl documents in its header which prelude names it relies on.
 */
export interface Prelude {
  act?: ActDType;
  uniforms?: UniformLayout;
  /** adds `wg_sum`/`wg_max` and the `Lane` entry-point struct */
  reduce?: 'plain' | 'subgroup';
  enables?: string[];
  /** further library texts (e.g. a weight-format reader), in order */
  libs?: string[];
}

export function composeWgsl(body: string, prelude: Prelude): string {
  const enables = new Set(prelude.enables ?? []);
  if (prelude.act === 'f16') enables.add('f16');
  if (prelude.reduce === 'subgroup') enables.add('subgroups');
  const parts: string[] = [];
  for (const e of enables) parts.push(`enable ${e};`);
  if (prelude.act) parts.push(`alias act_t = ${prelude.act};`);
  if (prelude.uniforms) parts.push(uniformStructWgsl(prelude.uniforms));
  if (prelude.reduce) parts.push(prelude.reduce === 'subgroup' ? reduceSubgroup : reducePlain);
  for (const lib of prelude.libs ?? []) parts.push(lib);
  parts.push(body);
  return parts.join('\n');
}
