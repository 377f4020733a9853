import type { ActDType } from '../core/dtype.js';
import { WgllmError } from '../core/errors.js';
import { createBuffer } from '../gpu/buffers.js';
import type { GpuContext } from '../gpu/context.js';
import type { BufferBinding } from '../gpu/launch.js';
import { KernelGroup } from '../kernels/launch.js';
import {
  chooseMatmulPath,
  decodeMatmulSpec,
  GEMV_MAX_M,
  MATMUL_SPECS,
  createQuantizedX,
  matmulGemvInt8PreSpec,
  matmulQuantizeXSpec,
  matmulDequantSpec,
  type MatmulDequantShape,
  type MatmulShape,
} from '../kernels/matmul.js';
import type { Int8Format } from '../kernels/int8-x.js';
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

type Member = { linear: Linear; x: GPUBuffer | BufferBinding; y: GPUBuffer | BufferBinding };

export interface LinearOptions {
  /** int8-dot GEMVs over x quantized per 32-block where the weights take them (default: f16 activations only) */
  int8?: boolean;
  /**
   * x arrives quantized for the int8 GEMVs in this scratch, written by the kernel that produces x
   * (rmsnorm.quant-x, swiglu.quant-x) in every step where `readsProducedX`: the group runs no
   * quantizer of its own. Only for layers of one format, producedXFormat's.
   */
  producedX?: { xq: GPUBuffer; xs: GPUBuffer };
  /**
   * The layers' W stacks gate over up rows (a fused gate|up projection): where a prefill-sized
   * kernel has the SwiGLU epilogue (matmul.tensor, MatmulShape.glu), it writes silu(gate) * up
   * into this buffer instead of the product into y, and `fusesGlu(layer)` tells the caller to skip its
   * swiglu pass for the step. One buffer for every layer (they run in turn).
   */
  glu?: { y: GPUBuffer };
  /**
   * Prompt-sized steps of quantized layers: where a tier of at least `minM` rows would run the
   * tensor-core GEMM, it runs it over f16 W instead, which matmul.dequant-f16 writes into
   * `scratch` from the layer's blocks right before (one buffer for every linear: they run in
   * turn; a layer whose f16 W does not fit keeps the quantized GEMM). See DEQUANT_MIN_M.
   */
  dequant?: { scratch: F16WeightScratch; minM: number };
}

/**
 * The buffer LinearOptions.dequant writes f16 W into, shared by every linear (they run in turn).
 * It is made when the first prefill tier takes it, so a runner whose GEMMs never read f16 W (f32
 * activations, no tensor-core path for these shapes, steps too small) holds none.
 */
export class F16WeightScratch {
  private buf: GPUBuffer | undefined;

  constructor(
    private readonly ctx: GpuContext,
    /** the largest f16 W it holds */
    readonly bytes: number,
  ) {}

  /** the buffer, made on first use */
  get buffer(): GPUBuffer {
    return (this.buf ??= createBuffer(this.ctx, this.bytes, 'w:f16'));
  }

  /** the buffer, if some linear took it */
  get made(): GPUBuffer | undefined {
    return this.buf;
  }

  destroy(): void {
    this.buf?.destroy();
  }
}

/**
 * Prefill-sized tiers built for at least this many rows of x (LARGE_M_TIERS: the 256-row tier
 * takes steps of 129..256 rows) run quantized layers' GEMMs over a fresh f16 copy of W: their
 * tiles then stage W as plain halves, where decoding blocks in every tile's staging cost each
 * weight once per 128 rows of x. H200, Llama-3.1-8B Q4_0, runner prefill pass, same call: 512
 * tokens 49.3 -> 43.2 ms, 256 tokens 31.8 -> 28.4 ms, but 128 tokens 20.3 -> 22.5 ms (there the
 * copy's fixed 5.5 ms outweighs the faster GEMMs), hence 256 (bench/README.md).
 */
export const DEQUANT_MIN_M = 256;

function readsQuantizedX(spec: KernelSpec<MatmulShape, unknown>): boolean {
  return spec === (matmulGemvInt8PreSpec as KernelSpec<MatmulShape, unknown>);
}

/**
 * The weight format for which the producer of these linears' shared x (an rmsnorm, a swiglu)
 * can quantize it for them in its own pass: where they all are in one format whose decode GEMVs
 * read pre-quantized x. Undefined where they are not (the grouping of quantized x depends on the
 * format: linears of several formats, as Q4_K_M files mix Q4_K/Q6_K layers, keep a quantizer
 * pass per format group), or where their GEMVs read x as it is (f32 activations, formats without
 * an int8 GEMV).
 */
export function producedXFormat(act: ActDType, linears: readonly Linear[], maxM: number, dev: GpuContext['info'], opts: Pick<LinearOptions, 'int8'> = {}): Int8Format | undefined {
  const format = linears[0]?.format;
  if (!format || linears.some((l) => l.format !== format)) return undefined;
  const int8 = opts.int8 ?? act === 'f16';
  const reads = linears.every((l) => {
    const { small } = linearShapes(act, { ...l, bias: Boolean(l.bias) }, maxM, dev);
    const few = { ...small, M: Math.min(GEMV_MAX_M, maxM) };
    return readsQuantizedX(decodeMatmulSpec(small, dev, int8) as KernelSpec<MatmulShape, unknown>) && readsQuantizedX(decodeMatmulSpec(few, dev, int8) as KernelSpec<MatmulShape, unknown>);
  });
  return reads ? (format as Int8Format) : undefined;
}

/**
 * Rows of x up to which a prefill-sized kernel of its own serves, besides the one sized for the
 * group's maxM (maxNumBatchedTokens): with only that one, 33..256-row steps (batch decode past the
 * GEMV, short prompts) ran a 512-row config whose tiles leave their few workgroups idle. H200,
 * Llama-3.1-8B Q4_0, same call: batch-64 decode step 37.4 ms GPU in a runner sized for 64 rows
 * against 51.5 ms inter-token latency in the engine sized for 512.
 */
export const LARGE_M_TIERS = [64, 128, 256] as const;

/**
 * A prefill-sized kernel for M up to maxM; glu: it has the SwiGLU epilogue (LinearOptions.glu);
 * dequant: it reads f16 W, which this kernel writes first (LinearOptions.dequant).
 */
interface LargeTier {
  maxM: number;
  group: KernelGroup<MatmulShape, unknown>;
  glu: boolean;
  dequant?: KernelGroup<MatmulDequantShape, unknown>;
}

/** How a format group builds a kernel for its members: W as stored, or the f16 copy in a scratch buffer. */
type MakeKernel = (spec: KernelSpec<MatmulShape, unknown>, shape: MatmulShape, glu: boolean, w?: GPUBuffer) => Promise<KernelGroup<MatmulShape, unknown>>;

async function largeTiers(
  large: MatmulShape,
  dev: GpuContext['info'],
  make: MakeKernel,
  glu: boolean,
  dequant?: { scratch: F16WeightScratch; minM: number; make: () => Promise<KernelGroup<MatmulDequantShape, unknown>> },
): Promise<LargeTier[]> {
  const tiers = [...LARGE_M_TIERS.filter((m) => m > GEMV_MAX_M && m < large.M), large.M];
  const out: LargeTier[] = [];
  const f16Bytes = 2 * large.N * large.K; // (the scratch was sized for the largest that fits a binding)
  // one copy kernel for every tier that takes it (its launch does not depend on M)
  let copy: KernelGroup<MatmulDequantShape, unknown> | undefined;
  for (const maxM of tiers) {
    let shape: MatmulShape = { ...large, M: maxM };
    let w: GPUBuffer | undefined;
    const f16Shape: MatmulShape = { ...shape, weight: 'f16' };
    if (dequant && maxM >= dequant.minM && f16Bytes <= dequant.scratch.bytes && chooseMatmulPath(shape, dev) === 'tensor' && chooseMatmulPath(f16Shape, dev) === 'tensor') {
      shape = f16Shape;
      w = dequant.scratch.buffer;
      copy ??= await dequant.make();
    }
    const spec = MATMUL_SPECS[chooseMatmulPath(shape, dev)] as KernelSpec<MatmulShape, unknown>;
    const fused = glu && spec.supports({ ...shape, glu: true }, dev).length === 0;
    const group = await make(spec, fused ? { ...shape, glu: true } : shape, fused, w);
    out.push({ maxM, group, glu: fused, ...(w ? { dequant: copy } : {}) });
  }
  return out;
}

/** x's int8 quantizer for the GEMVs over pre-quantized x (matmul.gemv-int8-pre) and its scratch. */
interface XQuantizer {
  kernel: KernelGroup<MatmulShape, unknown>;
  scratch: GPUBuffer[];
}

/**
 * The layers of one weight format: a GEMV for one row of x, a GEMV tuned for a few rows (it
 * reads each weight once for several rows, where the one-row config would re-read W per row),
 * and a GEMM (or tensor-core) kernel for prefill-sized M. Whichever GEMV runs over pre-quantized
 * x (the int8-dot one), x's quantizer runs first, at every M: a step must not read the quantized
 * x of an earlier step. (Without a quantizer, x's producer writes it: LinearOptions.producedX.)
 */
class FormatGroup {
  active: KernelGroup<MatmulShape, unknown>;
  shape: MatmulShape;
  /** the step's shape with the SwiGLU epilogue, for the tiers that have it */
  private readonly gluShape: MatmulShape;
  /** the active kernel writes silu(gate) * up (LinearOptions.glu) */
  fusesGlu = false;
  /** the prefill-sized tier of the active kernel, if it is one */
  private activeTier: LargeTier | undefined;

  constructor(
    readonly gemv: KernelGroup<MatmulShape, unknown>,
    readonly gemvFew: KernelGroup<MatmulShape, unknown>,
    /** prefill-sized kernels, each for M up to its maxM (ascending; the last one's is the group's maxM) */
    readonly large: readonly LargeTier[],
    base: MatmulShape,
    private readonly quantizer?: XQuantizer,
  ) {
    this.active = gemv;
    this.shape = base;
    this.gluShape = { ...base, glu: true };
  }

  /** The active kernel reads x quantized beforehand: the quantizer (or x's producer) runs first. */
  get readsQuantizedX(): boolean {
    return readsQuantizedX(this.active.spec);
  }

  setM(M: number): void {
    this.shape.M = M;
    const large = this.large.find((t) => M <= t.maxM) ?? this.large[this.large.length - 1];
    this.active = M === 1 ? this.gemv : M <= GEMV_MAX_M || !large ? this.gemvFew : large.group;
    this.activeTier = this.active === large?.group ? large : undefined;
    this.fusesGlu = this.activeTier?.glu ?? false;
    this.gluShape.M = M;
    this.active.setShape(this.fusesGlu ? this.gluShape : this.shape);
    if (this.readsQuantizedX) this.quantizer?.kernel.setShape(this.shape);
  }

  encode(pass: GPUComputePassEncoder, member: number): void {
    if (this.readsQuantizedX) this.quantizer?.kernel.encode(pass, member);
    this.activeTier?.dequant?.encode(pass, member);
    this.active.encode(pass, member);
  }

  destroy(): void {
    this.gemv.destroy();
    this.gemvFew.destroy();
    for (const t of this.large) t.group.destroy();
    // (tiers share their copy kernel)
    for (const d of new Set(this.large.map((t) => t.dequant))) d?.destroy();
    this.quantizer?.kernel.destroy();
    for (const b of this.quantizer?.scratch ?? []) b.destroy();
  }
}

/**
 * One linear role across all layers: a GEMV for decode-sized M and a GEMM (or tensor-core)
 * kernel for prefill-sized M, each one pipeline with a bind group per layer. Layers whose weights
 * are stored in different formats (Q4_K_M files keep some layers' v/down in Q6_K) get a pipeline
 * per format. `setM` picks the variant for the step.
 */
export class LinearGroup {
  private constructor(
    private readonly groups: FormatGroup[],
    /** per layer: [its format group, its member index in that group] */
    private readonly route: [FormatGroup, number][],
    private readonly produced: boolean,
  ) {}

  /**
   * After setM: this layer's kernel for the step writes silu(gate) * up to LinearOptions.glu's
   * buffer (skip its swiglu pass). Per layer: layers of another format may lack the epilogue.
   */
  fusesGlu(layer: number): boolean {
    return this.route[layer]![0].fusesGlu;
  }

  static async create(ctx: GpuContext, act: ActDType, layers: readonly Member[], maxM: number, configs: ConfigSource, label: string, opts: LinearOptions = {}): Promise<LinearGroup> {
    const int8 = opts.int8 ?? act === 'f16';
    const byFormat = new Map<string, number[]>();
    layers.forEach((m, i) => {
      const key = `${m.linear.format}|${Boolean(m.linear.bias)}`;
      byFormat.set(key, [...(byFormat.get(key) ?? []), i]);
    });
    const route: [FormatGroup, number][] = new Array(layers.length);
    const groups: FormatGroup[] = [];
    for (const idx of byFormat.values()) {
      const l0 = layers[idx[0]!]!.linear;
      const { small, large, largePath } = linearShapes(act, { ...l0, bias: Boolean(l0.bias) }, maxM, ctx.info);
      const members = idx.map((i) => {
        const { linear, x, y } = layers[i]!;
        return { x, w: linear.weight.buffer, ...(linear.bias ? { bias: linear.bias.buffer } : {}), y };
      });
      const make: MakeKernel = async (spec, shape, glu, w) =>
        KernelGroup.create(
          ctx,
          spec,
          shape,
          await configs.get(spec, shape),
          members.map((m) => ({ ...m, ...(glu ? { y: opts.glu!.y } : {}), ...(w ? { w } : {}) })),
          `${label}:${shape.weight}${w ? `<-${l0.format}` : ''}:${spec.id}${glu ? '+glu' : ''}`,
        );
      const few = { ...small, M: Math.min(GEMV_MAX_M, maxM) };
      const smallSpec = decodeMatmulSpec(small, ctx.info, int8) as KernelSpec<MatmulShape, unknown>;
      const fewSpec = decodeMatmulSpec(few, ctx.info, int8) as KernelSpec<MatmulShape, unknown>;
      let quantizer: XQuantizer | undefined;
      if (opts.producedX) {
        if (new Set(layers.map((m) => m.linear.format)).size > 1 || !(readsQuantizedX(smallSpec) && readsQuantizedX(fewSpec))) {
          throw new WgllmError('internal', `${label}: x quantized by its producer needs layers of one format read by int8 GEMVs (producedXFormat)`);
        }
        for (const m of members) Object.assign(m, opts.producedX);
      } else if (readsQuantizedX(smallSpec) || readsQuantizedX(fewSpec)) {
        // x quantized once per layer and step into scratch shared by the layers (they run in turn),
        // sized for the most rows a GEMV takes (few.M >= small.M)
        const { xq, xs } = createQuantizedX(ctx, few, label);
        for (const m of members) Object.assign(m, { xq, xs });
        const qShape = { ...few };
        const kernel = await KernelGroup.create(ctx, matmulQuantizeXSpec, qShape, matmulQuantizeXSpec.defaultConfig(qShape, ctx.info),
          idx.map((i) => ({ x: layers[i]!.x, xq, xs })), `${label}:${l0.format}:${matmulQuantizeXSpec.id}`);
        quantizer = { kernel: kernel as KernelGroup<MatmulShape, unknown>, scratch: [xq, xs] };
      }
      const gemv = await make(smallSpec, small, false);
      const gemvFew = await make(fewSpec, few, false);
      const dq = opts.dequant;
      const dequant =
        dq && l0.format !== 'f32' && l0.format !== 'f16'
          ? {
              ...dq,
              make: async () => {
                const shape: MatmulDequantShape = { weight: l0.format as MatmulDequantShape['weight'], N: l0.N, K: l0.K };
                return KernelGroup.create(ctx, matmulDequantSpec, shape, await configs.get(matmulDequantSpec, shape),
                  idx.map((i) => ({ w: layers[i]!.linear.weight.buffer, out: dq.scratch.buffer })), `${label}:${l0.format}:${matmulDequantSpec.id}`);
              },
            }
          : undefined;
      const big = largePath === 'gemv' ? [] : await largeTiers(large, ctx.info, make, Boolean(opts.glu) && !l0.bias, dequant);
      const g = new FormatGroup(gemv, gemvFew, big, { ...small }, quantizer);
      groups.push(g);
      idx.forEach((i, member) => (route[i] = [g, member]));
    }
    return new LinearGroup(groups, route, Boolean(opts.producedX));
  }

  /** Sets this step's number of rows and the variant that computes them. */
  setM(M: number): void {
    for (const g of this.groups) g.setM(M);
  }

  /** After setM: this step's GEMVs read x from LinearOptions.producedX, which x's producer must write. */
  get readsProducedX(): boolean {
    return this.produced && this.groups.some((g) => g.readsQuantizedX);
  }

  encode(pass: GPUComputePassEncoder, layer = 0): void {
    const [g, member] = this.route[layer]!;
    g.encode(pass, member);
  }

  destroy(): void {
    for (const g of this.groups) g.destroy();
  }
}
