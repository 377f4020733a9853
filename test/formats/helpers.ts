/** Shared fixtures for the format tests: model paths, in-memory writers for GGUF/safetensors, error checks. */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { expect } from 'vitest';
import { bytesSource } from '../../src/core/byte-source.js';
import { isWgllmError, WgllmError, type ErrorCode } from '../../src/core/errors.js';
import type { ByteSource } from '../../src/core/platform.js';
import type { OpenFile } from '../../src/model/formats/types.js';

export const MODELS = path.resolve(__dirname, '../../../shared/models');
export const modelPath = (rel: string): string => path.join(MODELS, rel);
export const modelBytes = (rel: string): Uint8Array => new Uint8Array(readFileSync(modelPath(rel)));
export const memSource = (name: string, bytes: Uint8Array): ByteSource => bytesSource(name, bytes);

/** An OpenFile over an in-memory folder. */
export function memFolder(files: Record<string, Uint8Array>): OpenFile {
  return (rel) =>
    files[rel] ? Promise.resolve(bytesSource(rel, files[rel])) : Promise.reject(new WgllmError('not_found', `${rel}: no such file`));
}

export const json = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v));

/** Awaits `p`, expecting a WgllmError with `code` whose message matches every pattern. */
export async function expectError(p: Promise<unknown> | (() => unknown), code: ErrorCode, ...patterns: RegExp[]): Promise<WgllmError> {
  let err: unknown;
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    err = e;
  }
  if (!isWgllmError(err)) throw new Error(`expected WgllmError(${code}), got ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
  expect(err.code, err.message).toBe(code);
  for (const re of patterns) expect(err.message).toMatch(re);
  return err;
}

/**
 * llama.cpp's converter permutes q/k rows per head: GGUF row h*hd + 2i + j holds HF row
 * h*hd + j*hd/2 + i. This undoes it. w: [rows, cols] f32, rows = numHeads * hd.
 */
export function unpermuteGgufRows(w: Float32Array, rows: number, cols: number, numHeads: number): Float32Array {
  const hd = rows / numHeads;
  const out = new Float32Array(w.length); // [rows, cols] HF (rotate_half) order
  for (let h = 0; h < numHeads; h++) {
    for (let i = 0; i < hd / 2; i++) {
      for (let j = 0; j < 2; j++) {
        const src = h * hd + 2 * i + j, dst = h * hd + j * (hd / 2) + i;
        out.set(w.subarray(src * cols, src * cols + cols), dst * cols);
      }
    }
  }
  return out;
}

// ---- a tiny GGUF writer (little-endian, v3), for corrupt/edge-case files ----

export type GgufKv = [key: string, type: number, value: unknown, elemType?: number];
export interface GgufTensorSpec { name: string; dims: number[]; type: number; data: Uint8Array; offset?: number }

class Writer {
  private parts: number[] = [];
  u8(v: number): void { this.parts.push(v & 0xff); }
  bytes(b: ArrayLike<number>): void { for (let i = 0; i < b.length; i++) this.parts.push(b[i]!); }
  num(v: number | bigint, size: number, kind: 'u' | 'i' | 'f'): void {
    const dv = new DataView(new ArrayBuffer(size));
    if (kind === 'f') size === 4 ? dv.setFloat32(0, Number(v), true) : dv.setFloat64(0, Number(v), true);
    else if (size === 8) kind === 'u' ? dv.setBigUint64(0, BigInt(v), true) : dv.setBigInt64(0, BigInt(v), true);
    else if (size === 4) kind === 'u' ? dv.setUint32(0, Number(v), true) : dv.setInt32(0, Number(v), true);
    else if (size === 2) kind === 'u' ? dv.setUint16(0, Number(v), true) : dv.setInt16(0, Number(v), true);
    else kind === 'u' ? dv.setUint8(0, Number(v)) : dv.setInt8(0, Number(v));
    this.bytes(new Uint8Array(dv.buffer));
  }
  str(s: string): void {
    const b = new TextEncoder().encode(s);
    this.num(b.length, 8, 'u');
    this.bytes(b);
  }
  get length(): number { return this.parts.length; }
  done(): Uint8Array { return Uint8Array.from(this.parts); }
}

const SCALAR: Record<number, [number, 'u' | 'i' | 'f']> = {
  0: [1, 'u'], 1: [1, 'i'], 2: [2, 'u'], 3: [2, 'i'], 4: [4, 'u'], 5: [4, 'i'], 6: [4, 'f'], 10: [8, 'u'], 11: [8, 'i'], 12: [8, 'f'],
};

function writeValue(w: Writer, type: number, v: unknown, elemType?: number): void {
  if (type === 7) return w.u8(typeof v === 'number' ? v : v ? 1 : 0);
  if (type === 8) return w.str(String(v));
  if (type === 9) {
    const arr = v as unknown[];
    w.num(elemType!, 4, 'u');
    w.num(arr.length, 8, 'u');
    for (const x of arr) Array.isArray(x) ? writeValue(w, 9, x, 8) : writeValue(w, elemType!, x);
    return;
  }
  const s = SCALAR[type];
  if (!s) return; // an invalid type tag: the reader must fail on the tag itself
  w.num(v as number, s[0], s[1]);
}

/** Writes a GGUF file. Tensor offsets default to packed, aligned placement. */
export function writeGguf(kv: GgufKv[], tensors: GgufTensorSpec[], opts: { version?: number; alignment?: number } = {}): Uint8Array {
  const align = opts.alignment ?? 32;
  const w = new Writer();
  w.bytes([0x47, 0x47, 0x55, 0x46]);
  w.num(opts.version ?? 3, 4, 'u');
  w.num(tensors.length, 8, 'u');
  w.num(kv.length, 8, 'u');
  for (const [key, type, value, elemType] of kv) {
    w.str(key);
    w.num(type, 4, 'u');
    writeValue(w, type, value, elemType);
  }
  let off = 0;
  const offsets: number[] = [];
  for (const t of tensors) {
    w.str(t.name);
    w.num(t.dims.length, 4, 'u');
    for (const d of t.dims) w.num(d, 8, 'u');
    w.num(t.type, 4, 'u');
    const o = t.offset ?? off;
    offsets.push(o);
    w.num(o, 8, 'u');
    off = Math.ceil((o + t.data.length) / align) * align;
  }
  while (w.length % align) w.u8(0);
  const dataStart = w.length;
  const head = w.done();
  const end = Math.max(dataStart, ...tensors.map((t, i) => dataStart + offsets[i]! + t.data.length));
  const out = new Uint8Array(end);
  out.set(head);
  tensors.forEach((t, i) => out.set(t.data, dataStart + offsets[i]!));
  return out;
}

/** Writes a safetensors file from a header object (written as is) and a data section. */
export function writeSafetensors(header: Record<string, unknown>, data: Uint8Array): Uint8Array {
  const h = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

/** Float32Array -> little-endian bytes */
export const f32Bytes = (a: ArrayLike<number>): Uint8Array => new Uint8Array(Float32Array.from(a).buffer);

/** The converter's permutation (inverse of unpermuteGgufRows): HF rows -> GGUF llama rows. */
export function permuteHfRows(w: Float32Array, rows: number, cols: number, numHeads: number): Float32Array {
  const hd = rows / numHeads;
  const out = new Float32Array(w.length); // [rows, cols] GGUF (interleaved-pair) order
  for (let h = 0; h < numHeads; h++) {
    for (let i = 0; i < hd / 2; i++) {
      for (let j = 0; j < 2; j++) {
        const dst = h * hd + 2 * i + j, src = h * hd + j * (hd / 2) + i;
        out.set(w.subarray(src * cols, src * cols + cols), dst * cols);
      }
    }
  }
  return out;
}
