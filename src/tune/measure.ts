import { uploadBuffer } from '../gpu/buffers.js';
import type { GpuContext } from '../gpu/context.js';
import { GpuTimer } from '../gpu/timer.js';
import { hostTensorBytes } from '../kernels/host-tensors.js';
import { KernelDispatch } from '../kernels/launch.js';
import type { HostTensors, KernelSpec } from '../kernels/spec.js';
import { stableJson } from './hash.js';

export interface TimingOptions {
  /** 'auto' (default): timestamp queries when the adapter has them, else wall clock */
  method?: 'auto' | 'timestamp' | 'wall-clock';
  /** measurements per candidate whose median is its time (default 5) */
  samples?: number;
  /** GPU time one measurement should span, in ms (default 1 with timestamps, 10 wall clock) */
  targetMs?: number;
  /** cap on launches per measurement (default 1000) */
  maxIterations?: number;
}

export interface Measurement {
  /** ms per launch, one per sample */
  samples: number[];
  iterations: number;
}

export function median(xs: readonly number[]): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/**
 * Times configs of one kernel on one shape. The buffers are allocated and filled once (from
 * makeInputs, so data-dependent kernels such as gathers see realistic indices) and shared by
 * every candidate; each candidate gets its own KernelDispatch, compiled once. A measurement is
 * many launches in one compute pass, so per-launch overhead is what the engine itself pays
 * inside a step.
 */
export class KernelBench<S, C> {
  readonly timer: GpuTimer;
  readonly method: 'timestamp' | 'wall-clock';
  private readonly samples: number;
  private readonly targetMs: number;
  private readonly maxIterations: number;
  private readonly dispatches = new Map<string, KernelDispatch<S, C>>();
  private readonly iterations = new Map<string, number>();

  private constructor(
    private readonly ctx: GpuContext,
    readonly spec: KernelSpec<S, C>,
    readonly shape: S,
    private readonly buffers: Record<string, GPUBuffer>,
    opts: TimingOptions,
  ) {
    const method = opts.method ?? 'auto';
    this.timer = new GpuTimer(ctx, { forceWallClock: method === 'wall-clock' });
    this.method = this.timer.usesTimestamps ? 'timestamp' : 'wall-clock';
    this.samples = Math.max(1, opts.samples ?? 5);
    this.targetMs = opts.targetMs ?? (this.timer.usesTimestamps ? 1 : 10);
    this.maxIterations = Math.max(1, opts.maxIterations ?? 1000);
  }

  /** `inputs`: a seed for spec.makeInputs, or inputs already made (the tuner shares them with validation) */
  static create<S, C>(ctx: GpuContext, spec: KernelSpec<S, C>, shape: S, inputs: number | HostTensors, opts: TimingOptions = {}): KernelBench<S, C> {
    if (typeof inputs === 'number') inputs = spec.makeInputs(shape, inputs);
    const buffers: Record<string, GPUBuffer> = {};
    try {
      for (const b of spec.bindings(shape)) {
        if (b.kind === 'uniform' || b.scratch) continue;
        const t = (inputs as HostTensors)[b.name];
        if (!t) throw new Error(`${spec.id}: makeInputs gave no '${b.name}'`);
        buffers[b.name] = uploadBuffer(ctx, hostTensorBytes(t), `tune:${spec.id}:${b.name}`);
      }
    } catch (e) {
      for (const buf of Object.values(buffers)) buf.destroy();
      throw e;
    }
    return new KernelBench(ctx, spec, shape, buffers, opts);
  }

  get defaultSamples(): number {
    return this.samples;
  }

  private async dispatchFor(cfg: C): Promise<KernelDispatch<S, C>> {
    const k = stableJson(cfg);
    let d = this.dispatches.get(k);
    if (!d) {
      d = await KernelDispatch.create(this.ctx, this.spec, this.shape, cfg, this.buffers);
      this.dispatches.set(k, d);
    }
    return d;
  }

  /**
   * Up to `samples` measurements of `cfg` (ms per launch each); after `deadline`
   * (performance.now() time) it stops early, with at least one. The first call for a config
   * warms it up and picks how many launches one measurement holds, so that short kernels are
   * timed over about targetMs rather than one launch's worth of timer resolution.
   */
  async measure(cfg: C, samples = this.samples, deadline = Infinity): Promise<Measurement> {
    const d = await this.dispatchFor(cfg);
    const record = (pass: GPUComputePassEncoder) => d.encode(pass);
    const k = stableJson(cfg);
    let iterations = this.iterations.get(k);
    if (iterations === undefined) {
      // First use pays driver-side pipeline setup: never a sample. A launch that is already
      // longer than targetMs needs no second look (slow adapters, huge shapes).
      let one = await this.timer.time(record, 1);
      if (one < this.targetMs) one = await this.timer.time(record, 1);
      iterations = Math.min(this.maxIterations, Math.max(1, Math.round(this.targetMs / Math.max(one, 1e-4))));
      this.iterations.set(k, iterations);
      if (iterations > 1) await this.timer.time(record, iterations); // warm-up at the measured size
    }
    const out: number[] = [];
    for (let i = 0; i < samples; i++) {
      out.push(await this.timer.time(record, iterations));
      if (performance.now() > deadline) break;
    }
    return { samples: out, iterations };
  }

  destroy(): void {
    for (const d of this.dispatches.values()) d.destroy();
    this.dispatches.clear();
    for (const b of Object.values(this.buffers)) b.destroy();
    this.timer.destroy();
  }
}
