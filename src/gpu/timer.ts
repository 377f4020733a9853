import { GPUBufferUsageConst, GPUMapModeConst } from './constants.js';
import type { GpuContext } from './context.js';

/**
 * Times GPU work. With `timestamp-query` it brackets one compute pass with timestamps (GPU time
 * only); without it, it falls back to wall clock from submit to onSubmittedWorkDone, which also
 * counts submission overhead, so it runs the work `iterations` times per measurement to dilute it.
 */
export class GpuTimer {
  readonly usesTimestamps: boolean;
  private querySet: GPUQuerySet | undefined;
  private resolveBuf: GPUBuffer | undefined;
  private readBuf: GPUBuffer | undefined;

  constructor(private readonly ctx: GpuContext, opts: { forceWallClock?: boolean } = {}) {
    this.usesTimestamps = ctx.info.features.timestampQuery && !opts.forceWallClock;
    if (this.usesTimestamps) {
      this.querySet = ctx.device.createQuerySet({ type: 'timestamp', count: 2 });
      this.resolveBuf = ctx.device.createBuffer({
        size: 16,
        usage: GPUBufferUsageConst.QUERY_RESOLVE | GPUBufferUsageConst.COPY_SRC,
      });
      this.readBuf = ctx.device.createBuffer({ size: 16, usage: GPUBufferUsageConst.MAP_READ | GPUBufferUsageConst.COPY_DST });
    }
  }

  /** Milliseconds per iteration of `record`, which encodes one unit of work into a compute pass. */
  async time(record: (pass: GPUComputePassEncoder) => void, iterations = 1): Promise<number> {
    this.ctx.assertAlive();
    const enc = this.ctx.device.createCommandEncoder({ label: 'timer' });
    const pass = enc.beginComputePass(
      this.querySet
        ? { timestampWrites: { querySet: this.querySet, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } }
        : {},
    );
    for (let i = 0; i < iterations; i++) record(pass);
    pass.end();
    if (this.querySet && this.resolveBuf && this.readBuf) {
      enc.resolveQuerySet(this.querySet, 0, 2, this.resolveBuf, 0);
      enc.copyBufferToBuffer(this.resolveBuf, 0, this.readBuf, 0, 16);
      this.ctx.queue.submit([enc.finish()]);
      await this.readBuf.mapAsync(GPUMapModeConst.READ);
      const t = new BigUint64Array(this.readBuf.getMappedRange().slice(0));
      this.readBuf.unmap();
      const ns = Number(t[1]! - t[0]!);
      // Some implementations report 0 for very short passes or quantize; never return <= 0.
      return Math.max(ns, 1) / 1e6 / iterations;
    }
    const t0 = performance.now();
    this.ctx.queue.submit([enc.finish()]);
    await this.ctx.queue.onSubmittedWorkDone();
    return (performance.now() - t0) / iterations;
  }

  destroy(): void {
    this.querySet?.destroy();
    this.resolveBuf?.destroy();
    this.readBuf?.destroy();
  }
}
