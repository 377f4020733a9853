import { WgllmError } from '../core/errors.js';
import { GPUBufferUsageConst, GPUMapModeConst } from './constants.js';
import type { GpuContext } from './context.js';

/** Buffer sizes are rounded up to 4 bytes: WebGPU requires it for copies and mapping. */
export function align4(n: number): number {
  return Math.ceil(n / 4) * 4;
}

export const STORAGE_USAGE = GPUBufferUsageConst.STORAGE | GPUBufferUsageConst.COPY_DST | GPUBufferUsageConst.COPY_SRC;

/**
 * Bytes past the end of every storage buffer: block-format weight readers assemble a field from
 * the two words it straddles and may load the word after a tensor's last byte (its value unused).
 * With Dawn's robustness off (Node, platform/node/gpu.ts) that load must still land in the buffer.
 */
export const STORAGE_SLACK_BYTES = 16;

export function createBuffer(ctx: GpuContext, byteSize: number, label: string, usage = STORAGE_USAGE): GPUBuffer {
  ctx.assertAlive();
  const slack = usage & GPUBufferUsageConst.STORAGE ? STORAGE_SLACK_BYTES : 0;
  const size = Math.max(4, align4(byteSize)) + slack;
  if (size > ctx.info.limits.maxBufferSize) {
    throw new WgllmError(
      'out_of_memory',
      `Buffer '${label}' needs ${size} bytes, more than this adapter's maxBufferSize (${ctx.info.limits.maxBufferSize}). ` +
        'Use a smaller model, context or batch.',
    );
  }
  return ctx.device.createBuffer({ label, size, usage });
}

/** Creates a buffer holding `data` (padded to 4 bytes). */
export function uploadBuffer(ctx: GpuContext, data: ArrayBufferView, label: string, usage = STORAGE_USAGE): GPUBuffer {
  const buffer = createBuffer(ctx, data.byteLength, label, usage | GPUBufferUsageConst.COPY_DST);
  writeBuffer(ctx, buffer, 0, data);
  return buffer;
}

/** queue.writeBuffer that tolerates byte lengths that are not a multiple of 4. */
export function writeBuffer(ctx: GpuContext, buffer: GPUBuffer, offset: number, data: ArrayBufferView): void {
  // WebGPU takes ArrayBuffer-backed views only; our data never lives in a SharedArrayBuffer.
  const bytes = new Uint8Array(data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
  const whole = bytes.byteLength & ~3;
  if (whole > 0) ctx.queue.writeBuffer(buffer, offset, bytes, 0, whole);
  if (whole < bytes.byteLength) {
    const tail = new Uint8Array(4);
    tail.set(bytes.subarray(whole));
    ctx.queue.writeBuffer(buffer, offset + whole, tail);
  }
}

/** Copies `byteLength` bytes of `buffer` back to the host. */
export async function readBuffer(ctx: GpuContext, buffer: GPUBuffer, byteLength = buffer.size, offset = 0): Promise<ArrayBuffer> {
  ctx.assertAlive();
  const size = align4(byteLength);
  const staging = ctx.device.createBuffer({
    label: `readback:${buffer.label}`,
    size,
    usage: GPUBufferUsageConst.MAP_READ | GPUBufferUsageConst.COPY_DST,
  });
  try {
    const enc = ctx.device.createCommandEncoder({ label: 'readback' });
    enc.copyBufferToBuffer(buffer, offset, staging, 0, size);
    ctx.queue.submit([enc.finish()]);
    await staging.mapAsync(GPUMapModeConst.READ);
    return staging.getMappedRange().slice(0, byteLength);
  } finally {
    staging.destroy();
  }
}

/**
 * Reuses buffers of the same usage and size class (powers of two, 256-byte minimum), so that
 * transient work (tests, tuning, readbacks) does not churn GPU allocations.
 */
export class BufferPool {
  private free = new Map<string, GPUBuffer[]>();
  /** live buffers and their pool key (usage and size class: a buffer's own size adds slack) */
  private live = new Map<GPUBuffer, string>();

  constructor(private readonly ctx: GpuContext) {}

  private static sizeClass(n: number): number {
    return Math.max(256, 2 ** Math.ceil(Math.log2(Math.max(1, n))));
  }

  acquire(byteSize: number, label: string, usage = STORAGE_USAGE): GPUBuffer {
    const size = BufferPool.sizeClass(byteSize);
    const key = `${usage}:${size}`;
    const buf = this.free.get(key)?.pop() ?? createBuffer(this.ctx, size, label, usage);
    this.live.set(buf, key);
    return buf;
  }

  release(buf: GPUBuffer): void {
    const key = this.live.get(buf);
    if (key === undefined) return;
    this.live.delete(buf);
    const list = this.free.get(key) ?? [];
    list.push(buf);
    this.free.set(key, list);
  }

  destroy(): void {
    for (const b of this.live.keys()) b.destroy();
    for (const list of this.free.values()) for (const b of list) b.destroy();
    this.live.clear();
    this.free.clear();
  }
}
