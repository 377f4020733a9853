import { bf16BitsToF32, blockFormat, f16BitsToF32, f32ToF16Bits, isQuantized, type DType } from '../core/dtype.js';
import { WgllmError } from '../core/errors.js';
import type { GpuContext } from '../gpu/context.js';
import { createBuffer, writeBuffer } from '../gpu/buffers.js';
import type { TensorInfo } from './formats/types.js';

/**
 * Streams weights from a model file to GPU buffers in bounded chunks, so that a model of many
 * GiB never needs more than a few chunks of JS heap. Dtypes the kernels do not read directly are
 * converted on the way (bf16 -> f16, or -> f32 for norm vectors); block-quantized data is copied
 * byte for byte and dequantized inside the kernels.
 */

/** How a weight is stored on the GPU. */
export type GpuWeightDType = 'f32' | 'f16' | Exclude<DType, 'f32' | 'f16' | 'bf16'>;

/** Bytes read from the file per chunk (a multiple of every element and block size we read). */
const CHUNK_BYTES = 64 * 1024 * 1024;
/** Wait for the GPU queue after this many bytes, so staging copies do not pile up in memory. */
const FLUSH_BYTES = 256 * 1024 * 1024;

export interface UploadProgress {
  (bytesDone: number, bytesTotal: number): void;
}

/** The GPU storage dtype for a file dtype (`forceF32` for small vectors read as f32 by kernels). */
export function gpuDTypeFor(dtype: DType, forceF32 = false): GpuWeightDType {
  if (forceF32) return 'f32';
  if (dtype === 'bf16') return 'f16';
  return dtype;
}

function elementBytes(dtype: DType): number {
  return blockFormat(dtype).blockBytes;
}

/** Largest chunk <= CHUNK_BYTES that holds whole units of `unit` bytes. */
function alignChunk(unit: number): number {
  return Math.max(unit, Math.floor(CHUNK_BYTES / unit) * unit);
}

/** Converts one chunk of file bytes to GPU bytes of `target`. */
function convertChunk(bytes: Uint8Array, from: DType, target: GpuWeightDType): Uint8Array {
  if (from === target) return bytes;
  const aligned = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
  if (from === 'bf16' || from === 'f16') {
    const src = new Uint16Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 2);
    const decode = from === 'bf16' ? bf16BitsToF32 : f16BitsToF32;
    if (target === 'f32') {
      const out = new Float32Array(src.length);
      for (let i = 0; i < src.length; i++) out[i] = decode(src[i]!);
      return new Uint8Array(out.buffer);
    }
    if (target === 'f16') {
      // bf16 -> f16: values beyond f16's range saturate to +-inf here; real checkpoints keep
      // weights far inside it, and the f32 path is there for those that do not.
      const out = new Uint16Array(src.length);
      for (let i = 0; i < src.length; i++) out[i] = f32ToF16Bits(decode(src[i]!));
      return new Uint8Array(out.buffer);
    }
  }
  if (from === 'f32' && target === 'f16') {
    const src = new Float32Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 4);
    const out = new Uint16Array(src.length);
    for (let i = 0; i < src.length; i++) out[i] = f32ToF16Bits(src[i]!);
    return new Uint8Array(out.buffer);
  }
  throw new WgllmError('model_unsupported', `cannot convert weights from ${from} to ${target}`);
}

export interface GpuWeight {
  buffer: GPUBuffer;
  dtype: GpuWeightDType;
  /** [rows, cols] (outermost first) of the whole buffer: tensors concatenated along rows */
  shape: number[];
  byteLength: number;
}

/**
 * Uploads tensors into one buffer, concatenated along their outer dimension (a fused q|k|v or
 * gate|up weight). They must share dtype and inner dimensions: rows are independent in every
 * format, so concatenating bytes concatenates rows.
 */
export class WeightUploader {
  private done = 0;
  private sinceFlush = 0;
  /** one chunk's bytes, reused for every read of a source that can read into it (ByteSource.readInto) */
  private staging?: Uint8Array;
  readonly buffers: GPUBuffer[] = [];

  constructor(
    private readonly ctx: GpuContext,
    readonly totalBytes: number,
    private readonly onProgress?: UploadProgress,
  ) {}

  async upload(label: string, tensors: readonly TensorInfo[], target?: GpuWeightDType): Promise<GpuWeight> {
    const first = tensors[0];
    if (!first) throw new WgllmError('internal', `no tensors for ${label}`);
    const dtype = target ?? gpuDTypeFor(first.dtype);
    const inner = first.shape.slice(1);
    let rows = 0;
    let gpuBytes = 0;
    for (const t of tensors) {
      if (t.dtype !== first.dtype || t.shape.slice(1).join() !== inner.join()) {
        throw new WgllmError('internal', `${label}: tensors to fuse differ in dtype or shape (${t.name})`);
      }
      if (isQuantized(t.dtype) && dtype !== t.dtype) {
        throw new WgllmError('model_unsupported', `${t.name}: ${t.dtype} weights are read as stored, not converted to ${dtype}`);
      }
      rows += t.shape[0] ?? 1;
      gpuBytes += isQuantized(t.dtype) ? t.byteLength : (t.byteLength / elementBytes(t.dtype)) * elementBytes(dtype);
    }
    const buffer = createBuffer(this.ctx, gpuBytes, label);
    this.buffers.push(buffer);
    let offset = 0;
    for (const t of tensors) offset += await this.copyTensor(t, buffer, offset, dtype);
    return { buffer, dtype, shape: [rows, ...inner], byteLength: gpuBytes };
  }

  private async copyTensor(t: TensorInfo, buffer: GPUBuffer, gpuOffset: number, target: GpuWeightDType): Promise<number> {
    // Chunks of whole blocks (elements), so a conversion never splits one.
    const chunk = alignChunk(blockFormat(t.dtype).blockBytes);
    let written = 0;
    for (let pos = 0; pos < t.byteLength; pos += chunk) {
      const len = Math.min(chunk, t.byteLength - pos);
      const raw = await this.readChunk(t, pos, len, chunk);
      if (raw.byteLength !== len) {
        throw new WgllmError('model_format', `${t.source.name}: tensor '${t.name}' is truncated (read ${raw.byteLength} of ${len} bytes at ${t.byteOffset + pos})`);
      }
      const gpuBytes = convertChunk(raw, t.dtype, target);
      writeBuffer(this.ctx, buffer, gpuOffset + written, gpuBytes);
      written += gpuBytes.byteLength;
      this.done += len;
      this.sinceFlush += gpuBytes.byteLength;
      this.onProgress?.(this.done, this.totalBytes);
      if (this.sinceFlush >= FLUSH_BYTES) {
        this.sinceFlush = 0;
        await this.ctx.queue.onSubmittedWorkDone();
      }
    }
    return written;
  }

  /**
   * `len` bytes of `t` from `pos`: into the reused staging buffer where the source can read into
   * one (writeBuffer copies the bytes before it returns, so the next read may overwrite them).
   */
  private async readChunk(t: TensorInfo, pos: number, len: number, chunk: number): Promise<Uint8Array> {
    if (!t.source.readInto) return t.source.read(t.byteOffset + pos, len);
    if (!this.staging || this.staging.byteLength < chunk) this.staging = new Uint8Array(Math.max(chunk, CHUNK_BYTES));
    const view = this.staging.subarray(0, len);
    await t.source.readInto(t.byteOffset + pos, view);
    return view;
  }

  /** Frees every buffer made so far (a load that failed half way leaks no GPU memory). */
  destroyAll(): void {
    for (const b of this.buffers) b.destroy();
    this.buffers.length = 0;
  }
}
