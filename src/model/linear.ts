import type { ActDType } from '../core/dtype.js';
import type { GpuContext } from '../gpu/context.js';
import type { BufferBinding } from '../gpu/launch.js';
import { KernelGroup } from '../kernels/launch.js';
import { chooseMatmulPath, GEMV_MAX_M, MATMUL_SPECS, type MatmulShape } from '../kernels/matmul.js';
import type { KernelSpec } from '../kernels/spec.js';
import type { ConfigSource } from './config-source.js';
import type { Linear } from './weights.js';

/** The matmul problems one linear role (e.g. every layer's o_proj) may launch, for tuning. */
export function linearShapes(act: ActDType, l: Pick<Linear, 'format' | 'N' | 'K'> & { bias: boolean }, maxM: number, dev: GpuContext['info']) {
  const base = { act, weight: l.format, N: l.N, K: l.K, bias: l.bias };
  const small: MatmulShape = { ...base, M: 1 };
  const large: MatmulShape = { ...base, M: maxM };
  const largePath = maxM > GEMV_MAX_M ? chooseMatmulPath(large, dev) : 'gemv';
  return { small, large, largePath };
}

/**
 * One linear role across all layers (same N, K, format and bias in every layer): a GEMV group
 * for decode-sized M and a GEMM (or tensor-core) group for prefill-sized M, each one pipeline
 * with a bind group per layer. `setM` picks the variant for the step.
 */
export class LinearGroup {
  private active: KernelGroup<MatmulShape, unknown>;
  private shape: MatmulShape;

  private constructor(
    private readonly gemv: KernelGroup<MatmulShape, unknown>,
    private readonly large: KernelGroup<MatmulShape, unknown> | undefined,
    base: MatmulShape,
  ) {
    this.active = gemv;
    this.shape = base;
  }

  static async create(
    ctx: GpuContext,
    act: ActDType,
    layers: readonly { linear: Linear; x: GPUBuffer | BufferBinding; y: GPUBuffer | BufferBinding }[],
    maxM: number,
    configs: ConfigSource,
    label: string,
  ): Promise<LinearGroup> {
    const l0 = layers[0]!.linear;
    const { small, large, largePath } = linearShapes(act, { ...l0, bias: Boolean(l0.bias) }, maxM, ctx.info);
    const members = layers.map(({ linear, x, y }) => ({
      x,
      w: linear.weight.buffer,
      ...(linear.bias ? { bias: linear.bias.buffer } : {}),
      y,
    }));
    const make = async (spec: KernelSpec<MatmulShape, unknown>, shape: MatmulShape) =>
      KernelGroup.create(ctx, spec, shape, await configs.get(spec, shape), members, `${label}:${spec.id}`);
    const gemv = await make(MATMUL_SPECS.gemv as KernelSpec<MatmulShape, unknown>, small);
    const big = largePath === 'gemv' ? undefined : await make(MATMUL_SPECS[largePath] as KernelSpec<MatmulShape, unknown>, large);
    return new LinearGroup(gemv, big, small);
  }

  /** Sets this step's number of rows and the variant that computes them. */
  setM(M: number): void {
    this.shape = { ...this.shape, M };
    this.active = M <= GEMV_MAX_M || !this.large ? this.gemv : this.large;
    this.active.setShape(this.shape);
  }

  encode(pass: GPUComputePassEncoder, layer = 0): void {
    this.active.encode(pass, layer);
  }

  destroy(): void {
    this.gemv.destroy();
    this.large?.destroy();
  }
}
