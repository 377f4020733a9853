import { WgllmError, isWgllmError } from '../core/errors.js';
import type { GpuContext } from '../gpu/context.js';
import { checkOutputs, runKernel } from '../kernels/harness.js';
import type { HostTensors, KernelSpec } from '../kernels/spec.js';
import { stableJson } from './hash.js';
import type { RejectStage } from './entry.js';

export type Verdict = { ok: true } | { ok: false; stage: RejectStage; reason: string };

/**
 * Runs fn inside validation and out-of-memory error scopes: WebGPU reports many failures (an
 * invalid shader module, a bind group that does not match, a grid over the limits) through
 * scopes rather than by throwing, and a candidate that raises one must be rejected: its work
 * never ran, so its time would be a lie.
 */
export async function withErrorScopes<T>(device: GPUDevice, fn: () => Promise<T>): Promise<T> {
  device.pushErrorScope('validation');
  device.pushErrorScope('out-of-memory');
  let result: T | undefined;
  let thrown: unknown;
  try {
    result = await fn();
  } catch (e) {
    thrown = e;
  }
  const oom = await device.popErrorScope();
  const invalid = await device.popErrorScope();
  if (thrown !== undefined) throw thrown;
  const err = invalid ?? oom;
  if (err) throw new WgllmError('internal', `WebGPU ${invalid ? 'validation' : 'out-of-memory'} error: ${err.message}`);
  return result as T;
}

function sameProgram<S, C>(spec: KernelSpec<S, C>, a: S, b: S, cfg: C, ctx: GpuContext): boolean {
  const pa = spec.build(a, cfg, ctx.info);
  const pb = spec.build(b, cfg, ctx.info);
  return pa.source === pb.source && pa.entryPoint === pb.entryPoint && stableJson(pa.constants) === stableJson(pb.constants);
}

/**
 * Checks candidates against the CPU reference before they are timed. The inputs and the
 * reference output are computed once per (kernel, shape). For large shapes the spec may name
 * a smaller validation shape; it is used only for configs whose program is identical on both
 * shapes (same WGSL, entry point and constants), since otherwise it would not test what is timed.
 */
export class CandidateValidator<S, C> {
  private data: { shape: S; inputs: HostTensors; want: HostTensors } | undefined;
  private full: { shape: S; inputs: HostTensors; want: HostTensors } | undefined;
  readonly validationShape: S;

  constructor(
    private readonly ctx: GpuContext,
    private readonly spec: KernelSpec<S, C>,
    private readonly shape: S,
    private readonly seed: number,
    /** makeInputs(shape, seed) when the caller already has it (shared with timing) */
    private readonly shapeInputs?: HostTensors,
  ) {
    this.validationShape = spec.validationShape?.(shape) ?? shape;
  }

  private prepared(shape: S): { shape: S; inputs: HostTensors; want: HostTensors } {
    const make = () => {
      const inputs = shape === this.shape && this.shapeInputs ? this.shapeInputs : this.spec.makeInputs(shape, this.seed);
      return { shape, inputs, want: this.spec.reference(inputs, shape) };
    };
    if (shape === this.validationShape) return (this.data ??= make());
    return (this.full ??= make());
  }

  async check(cfg: C): Promise<Verdict> {
    let shape = this.validationShape;
    try {
      if (shape !== this.shape && !sameProgram(this.spec, this.shape, shape, cfg, this.ctx)) shape = this.shape;
      const { inputs, want } = this.prepared(shape);
      const got = await withErrorScopes(this.ctx.device, () => runKernel(this.ctx, this.spec, shape, cfg, inputs));
      const r = checkOutputs(this.spec, shape, got, want);
      if (!r.ok) return { ok: false, stage: 'validate', reason: r.error! };
      return { ok: true };
    } catch (e) {
      if (isWgllmError(e, 'device_lost')) throw e;
      const msg = String((e as Error)?.message ?? e).split('\n').slice(0, 4).join(' ').slice(0, 400);
      return { ok: false, stage: isWgllmError(e, 'shader_compile') ? 'compile' : 'error', reason: msg };
    }
  }
}
