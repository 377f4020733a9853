import type { GpuContext } from '../gpu/context.js';
import { readBuffer, uploadBuffer } from '../gpu/buffers.js';
import { WgllmError } from '../core/errors.js';
import { KernelDispatch } from './launch.js';
import { compareTensors, hostTensorBytes, hostTensorFromBytes } from './host-tensors.js';
import type { HostTensors, KernelSpec } from './spec.js';

/**
 * Runs one kernel once on host tensors and returns its outputs: upload every binding, launch,
 * read back the outputs. For conformance tests, the selftest and the tuner's validation; the
 * engine never goes through here.
 */
export async function runKernel<S, C>(
  ctx: GpuContext,
  spec: KernelSpec<S, C>,
  shape: S,
  cfg: C,
  inputs: HostTensors,
): Promise<HostTensors> {
  const buffers: Record<string, GPUBuffer> = {};
  let kd: KernelDispatch<S, C> | undefined;
  try {
    for (const b of spec.bindings(shape)) {
      if (b.kind === 'uniform' || b.scratch) continue;
      const t = inputs[b.name];
      if (!t) throw new WgllmError('invalid_argument', `${spec.id}: input '${b.name}' missing`);
      buffers[b.name] = uploadBuffer(ctx, hostTensorBytes(t), `${spec.id}:${b.name}`);
    }
    kd = await KernelDispatch.create(ctx, spec, shape, cfg, buffers);
    const enc = ctx.device.createCommandEncoder({ label: spec.id });
    const pass = enc.beginComputePass();
    kd.encode(pass);
    pass.end();
    ctx.queue.submit([enc.finish()]);
    const out: HostTensors = {};
    for (const name of spec.outputs(shape)) {
      const like = inputs[name]!;
      const bytes = await readBuffer(ctx, buffers[name]!, hostTensorBytes(like).byteLength);
      out[name] = hostTensorFromBytes(bytes, like);
    }
    return out;
  } finally {
    kd?.destroy();
    for (const b of Object.values(buffers)) b.destroy();
  }
}

export interface OutputsCheck {
  ok: boolean;
  maxAbsErr: number;
  worstRatio: number;
  /** the first thing wrong */
  error?: string;
}

/**
 * A kernel's outputs against its reference: each output the reference holds within the spec's
 * tolerance, the rest through the spec's checkDerived (an output with neither is an error).
 * The conformance suite and the tuner's validation both judge candidates this way.
 */
export function checkOutputs<S, C>(spec: KernelSpec<S, C>, shape: S, got: HostTensors, want: HostTensors): OutputsCheck {
  const tol = spec.tolerance(shape);
  let maxAbsErr = 0;
  let worstRatio = 0;
  let error: string | undefined;
  for (const name of spec.outputs(shape)) {
    const g = got[name];
    const w = want[name];
    if (!g) {
      error ??= `output '${name}' missing`;
      continue;
    }
    if (!w) {
      if (!spec.checkDerived) error ??= `output '${name}' has no reference`;
      continue;
    }
    const cmp = compareTensors(g.data, w.data, tol);
    maxAbsErr = Math.max(maxAbsErr, cmp.maxAbsErr);
    worstRatio = Math.max(worstRatio, cmp.worstRatio);
    if (!cmp.ok) {
      const bad = cmp.firstBad!;
      error ??= `${name}[${bad.index}] = ${bad.got}, want ${bad.want} (max |err| ${cmp.maxAbsErr.toExponential(2)}, atol ${tol.atol}, rtol ${tol.rtol})`;
    }
  }
  if (!error && spec.checkDerived) error = spec.checkDerived(got, shape);
  return { ok: error === undefined, maxAbsErr, worstRatio, ...(error !== undefined ? { error } : {}) };
}
