import type { Int8Format } from '../kernels/int8-x.js';
import type { KernelGroup } from '../kernels/launch.js';
import type { LinearGroup } from './linear.js';

/** The variant of a producer that also quantizes x, and the linears that read what it writes. */
export interface QuantXVariant<S> {
  group: KernelGroup<S & { format: Int8Format }, unknown>;
  format: Int8Format;
  /** the linear groups whose producedX scratch the variant writes */
  consumers: readonly LinearGroup[];
  /** the variant's member for a member of the plain kernel; undefined: that member stays plain (its x feeds other linears) */
  member: (plainMember: number) => number | undefined;
}

/**
 * The kernel that produces a linear role's x (rmsnorm before q|k|v and gate|up, swiglu before
 * down), with, where the runner built one, its variant that also writes x quantized for the
 * role's int8 GEMVs (rmsnorm.quant-x, swiglu.quant-x; those GEMVs then run no quantizer pass of
 * their own). Per step the variant runs where the GEMVs read that quantized x (up to GEMV_MAX_M
 * rows); elsewhere (prefill: the GEMM reads x as it is) the plain kernel runs. Both are built at
 * load: a step only picks one.
 */
export class XProducer<S extends object> {
  private quantizes = false;

  constructor(
    readonly plain: KernelGroup<S, unknown>,
    private readonly variant?: QuantXVariant<S>,
  ) {}

  /** Call after the consumers' setM (their choice of GEMV decides the variant). */
  setShape(shape: S): void {
    this.plain.setShape(shape);
    this.quantizes = this.variant?.consumers.some((c) => c.readsProducedX) ?? false;
    if (this.quantizes) this.variant!.group.setShape({ ...shape, format: this.variant!.format });
  }

  encode(pass: GPUComputePassEncoder, member = 0): void {
    const m = this.quantizes ? this.variant!.member(member) : undefined;
    if (m === undefined) this.plain.encode(pass, member);
    else this.variant!.group.encode(pass, m);
  }

  destroy(): void {
    this.plain.destroy();
    this.variant?.group.destroy();
  }
}
