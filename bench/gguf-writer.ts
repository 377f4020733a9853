/**
 * A streaming GGUF v3 writer, for benchmark models with random weights in real shapes.
 *
 * The header (metadata + tensor infos) is built in memory (it is small: a tokenizer is a few MB),
 * then the tensor data is written tensor by tensor, in chunks, through a file handle, so that a
 * multi-GB model never sits in memory. Layout as llama.cpp reads it: "GGUF", u32 version,
 * u64 tensor count, u64 kv count, kvs, tensor infos (dims innermost first, u32 type, u64 offset
 * relative to the data start), padding to `general.alignment` (32), data with every tensor
 * aligned to 32.
 */
import { randomFillSync } from 'node:crypto';
import { open } from 'node:fs/promises';
import { blockFormat, byteSize, f32ToF16Bits, type DType } from '../src/core/dtype.js';

/** llama.cpp's ggml type ids */
export const GGML = { F32: 0, F16: 1, Q4_0: 2, Q5_0: 6, Q8_0: 8, Q4_K: 12, Q6_K: 14 } as const;
export type GgmlTypeName = keyof typeof GGML;

/** The engine's name of a ggml type: block sizes come from core/dtype.ts, the one table of them. */
function dtypeOf(type: GgmlTypeName): DType {
  return type.toLowerCase() as DType;
}

/** Bytes of one block (one element for F32/F16). */
function blockBytes(type: GgmlTypeName): number {
  return blockFormat(dtypeOf(type)).blockBytes;
}

export function tensorBytes(type: GgmlTypeName, numElems: number): number {
  return byteSize(dtypeOf(type), numElems);
}

// ---- metadata values (GGUF value type ids) ----
const T = { u8: 0, i8: 1, u16: 2, i16: 3, u32: 4, i32: 5, f32: 6, bool: 7, string: 8, array: 9, u64: 10, i64: 11, f64: 12 } as const;
type ScalarType = Exclude<keyof typeof T, 'array'>;
export type GgufMetaValue =
  | { type: Exclude<ScalarType, 'string' | 'bool' | 'u64' | 'i64'>; value: number }
  | { type: 'u64' | 'i64'; value: bigint }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string }
  | { type: 'array'; elem: 'string'; value: readonly string[] }
  | { type: 'array'; elem: Exclude<ScalarType, 'string' | 'bool' | 'u64' | 'i64'>; value: readonly number[] };

export const meta = {
  u32: (value: number): GgufMetaValue => ({ type: 'u32', value }),
  i32: (value: number): GgufMetaValue => ({ type: 'i32', value }),
  f32: (value: number): GgufMetaValue => ({ type: 'f32', value }),
  bool: (value: boolean): GgufMetaValue => ({ type: 'bool', value }),
  str: (value: string): GgufMetaValue => ({ type: 'string', value }),
  strs: (value: readonly string[]): GgufMetaValue => ({ type: 'array', elem: 'string', value }),
  i32s: (value: readonly number[]): GgufMetaValue => ({ type: 'array', elem: 'i32', value }),
  f32s: (value: readonly number[]): GgufMetaValue => ({ type: 'array', elem: 'f32', value }),
};

/** What a tensor holds: random values of its format, ones (norms), or given f32 values. */
export type TensorFill = 'random' | 'ones' | Float32Array;

export interface GgufTensorSpec {
  name: string;
  /** outermost first, as in our readers (e.g. [vocab, hidden]); written innermost first */
  shape: number[];
  type: GgmlTypeName;
  fill: TensorFill;
}

const utf8 = new TextEncoder();

/** Growable little-endian byte buffer for the header. */
class Bytes {
  private buf = new Uint8Array(1 << 20);
  private view = new DataView(this.buf.buffer);
  length = 0;
  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  u8(v: number): void { this.room(1); this.view.setUint8(this.length, v); this.length += 1; }
  i8(v: number): void { this.room(1); this.view.setInt8(this.length, v); this.length += 1; }
  u16(v: number): void { this.room(2); this.view.setUint16(this.length, v, true); this.length += 2; }
  i16(v: number): void { this.room(2); this.view.setInt16(this.length, v, true); this.length += 2; }
  u32(v: number): void { this.room(4); this.view.setUint32(this.length, v, true); this.length += 4; }
  i32(v: number): void { this.room(4); this.view.setInt32(this.length, v, true); this.length += 4; }
  f32(v: number): void { this.room(4); this.view.setFloat32(this.length, v, true); this.length += 4; }
  f64(v: number): void { this.room(8); this.view.setFloat64(this.length, v, true); this.length += 8; }
  u64(v: bigint | number): void { this.room(8); this.view.setBigUint64(this.length, BigInt(v), true); this.length += 8; }
  i64(v: bigint): void { this.room(8); this.view.setBigInt64(this.length, v, true); this.length += 8; }
  str(s: string): void {
    const b = utf8.encode(s);
    this.u64(b.length);
    this.room(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }
  pad(align: number): void { while (this.length % align) this.u8(0); }
  bytes(): Uint8Array { return this.buf.subarray(0, this.length); }
}

function writeScalar(b: Bytes, type: ScalarType, v: number | bigint | boolean | string): void {
  switch (type) {
    case 'u8': return b.u8(v as number);
    case 'i8': return b.i8(v as number);
    case 'u16': return b.u16(v as number);
    case 'i16': return b.i16(v as number);
    case 'u32': return b.u32(v as number);
    case 'i32': return b.i32(v as number);
    case 'f32': return b.f32(v as number);
    case 'f64': return b.f64(v as number);
    case 'bool': return b.u8(v ? 1 : 0);
    case 'string': return b.str(v as string);
    case 'u64': return b.u64(v as bigint);
    case 'i64': return b.i64(v as bigint);
  }
}

export const ALIGNMENT = 32;

// ---- random data of a format ----

const POOL_BYTES = 16 << 20;
const pools = new Map<GgmlTypeName, Uint8Array>();

/**
 * A pool of random bytes of `type` (a whole number of blocks), reused for every tensor of that
 * type from varying offsets: only shapes and formats matter for speed, and filling GBs with
 * fresh randomness would make generation CPU-bound. Block scales are overwritten with finite
 * f16 values chosen so that dequantized weights have an rms around 0.02 (a typical init): large
 * enough not to be zero, small enough that activations stay finite in f16 through the layers.
 */
function randomPool(type: GgmlTypeName): Uint8Array {
  let p = pools.get(type);
  if (p) return p;
  const bytes = blockBytes(type);
  const n = Math.floor(POOL_BYTES / bytes);
  p = randomFillSync(new Uint8Array(n * bytes));
  const v = new DataView(p.buffer);
  // f16 in [base, 2*base): random mantissa so blocks differ
  const f16 = (base: number, i: number): number => f32ToF16Bits(base * (1 + ((i * 2654435761) >>> 0) / 2 ** 32));
  for (let i = 0; i < n; i++) {
    const o = i * bytes;
    switch (type) {
      case 'F32': v.setFloat32(o, ((p[o]! / 255) - 0.5) * 0.06, true); break;
      // sign, exponent 2^-9..2^-6, random mantissa: |x| in ~0.002..0.03
      case 'F16': v.setUint16(o, (p[o]! & 0x80) << 8 | ((6 + (p[o]! & 3)) << 10) | (v.getUint16(o, true) & 0x3ff), true); break;
      case 'Q8_0': v.setUint16(o, f16(1.5e-4, i), true); break; // q in -128..127, rms ~74
      case 'Q4_0': v.setUint16(o, f16(2.5e-3, i), true); break; // q-8 in -8..7, rms ~4.6
      case 'Q5_0': v.setUint16(o, f16(1.2e-3, i), true); break; // q-16 in -16..15, rms ~9.2
      case 'Q4_K': // d, dmin; 6-bit scales/mins up to 63, q in 0..15
        v.setUint16(o, f16(6.5e-5, i), true);
        v.setUint16(o + 2, f16(6.5e-5, i + 1), true);
        break;
      case 'Q6_K': // int8 scales kept in 1..16 so that d stays a normal f16; q-32 in -32..31
        for (let s = 0; s < 16; s++) p[o + 192 + s] = (p[o + 192 + s]! & 15) + 1;
        v.setUint16(o + 208, f16(1.2e-4, i), true);
        break;
    }
  }
  pools.set(type, p);
  return p;
}

/**
 * The byte holding the sign bit (bit 7) of each scale of a block (of the value itself for
 * F16/F32, one element per block), little endian: negating the scales negates the block.
 */
const SIGN_BYTES: Record<GgmlTypeName, readonly number[]> = { F32: [3], F16: [1], Q4_0: [1], Q5_0: [1], Q8_0: [1], Q4_K: [1, 3], Q6_K: [209] };

/**
 * Gives each block of `out` a random sign. Every tensor is cut from one pool of random bytes, so
 * without this an embedding row and a weight row cut from the same bytes multiply coherently
 * (their dot product grows like K, not like sqrt(K)): on the Llama-3.1-8B shapes the MLP's output
 * ran at an rms of ~60 and the residual stream passed f16's range in the last layers (non-finite
 * activations on the f16 path; the f32 path showed the same values, growing ~2000 per layer).
 */
function randomSigns(type: GgmlTypeName, out: Uint8Array, seed: number): void {
  const blk = blockBytes(type);
  const at = SIGN_BYTES[type];
  let x = seed >>> 0 || 1;
  let bits = 0;
  for (let o = 0, i = 0; o + blk <= out.length; o += blk, i++) {
    if ((i & 31) === 0) {
      // xorshift32: 32 signs at a time
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      bits = x >>> 0;
    }
    if ((bits >>> (i & 31)) & 1) for (const b of at) out[o + b]! ^= 0x80;
  }
}

function fillBytes(t: GgufTensorSpec, numElems: number): ((out: Uint8Array, at: number) => void) | Uint8Array {
  if (t.fill instanceof Float32Array) {
    if (t.type !== 'F32' || t.fill.length !== numElems) throw new Error(`${t.name}: given values must be ${numElems} f32`);
    return new Uint8Array(t.fill.buffer, t.fill.byteOffset, t.fill.byteLength);
  }
  if (t.fill === 'ones') {
    if (t.type === 'F32') return new Uint8Array(new Float32Array(numElems).fill(1).buffer);
    if (t.type === 'F16') return new Uint8Array(new Uint16Array(numElems).fill(0x3c00).buffer);
    throw new Error(`${t.name}: 'ones' needs F32 or F16`);
  }
  const pool = randomPool(t.type);
  const blk = blockBytes(t.type);
  let start = 0;
  let nameSeed = 0x9e3779b9;
  for (let i = 0; i < t.name.length; i++) nameSeed = Math.imul(nameSeed ^ t.name.charCodeAt(i), 0x01000193);
  return (out, at) => {
    // a different block-aligned window of the pool for each chunk
    start = (start + 7919 * blk + at) % (pool.length - blk);
    start -= start % blk;
    let o = 0;
    while (o < out.length) {
      const n = Math.min(out.length - o, pool.length - start);
      out.set(pool.subarray(start, start + n), o);
      o += n;
      start = 0;
    }
    randomSigns(t.type, out, nameSeed ^ Math.imul(at / blk + 1, 0x85ebca6b));
  };
}

export interface WriteGgufResult {
  bytes: number;
  headerBytes: number;
}

const CHUNK = 16 << 20; // bytes per write (cut down to whole blocks below)

/** Writes `path`: metadata in insertion order (general.alignment added), tensors in the order given. */
export async function writeGguf(path: string, metadata: Map<string, GgufMetaValue>, tensors: GgufTensorSpec[]): Promise<WriteGgufResult> {
  const h = new Bytes();
  h.u32(0x46554747); // "GGUF"
  h.u32(3);
  h.u64(tensors.length);
  const kvs = new Map(metadata);
  kvs.set('general.alignment', meta.u32(ALIGNMENT));
  h.u64(kvs.size);
  for (const [key, v] of kvs) {
    h.str(key);
    h.u32(T[v.type]);
    if (v.type === 'array') {
      h.u32(T[v.elem]);
      h.u64(v.value.length);
      for (const x of v.value) writeScalar(h, v.elem, x);
    } else writeScalar(h, v.type, v.value);
  }
  let offset = 0;
  const sizes: number[] = [];
  for (const t of tensors) {
    const numElems = t.shape.reduce((a, b) => a * b, 1);
    const size = tensorBytes(t.type, numElems);
    if (t.shape.length === 0 || t.shape.length > 4) throw new Error(`${t.name}: ${t.shape.length} dims`);
    h.str(t.name);
    h.u32(t.shape.length);
    for (const d of [...t.shape].reverse()) h.u64(d);
    h.u32(GGML[t.type]);
    h.u64(offset);
    sizes.push(size);
    offset += size;
    offset += (ALIGNMENT - (offset % ALIGNMENT)) % ALIGNMENT;
  }
  h.pad(ALIGNMENT);
  const headerBytes = h.length;

  const fh = await open(path, 'w');
  try {
    let pos = 0;
    const write = async (b: Uint8Array): Promise<void> => {
      let done = 0;
      while (done < b.length) {
        const { bytesWritten } = await fh.write(b, done, b.length - done, pos);
        done += bytesWritten;
        pos += bytesWritten;
      }
    };
    await write(h.bytes());
    const chunk = new Uint8Array(CHUNK);
    const zeros = new Uint8Array(ALIGNMENT);
    for (const [i, t] of tensors.entries()) {
      const size = sizes[i]!;
      const src = fillBytes(t, t.shape.reduce((a, b) => a * b, 1));
      if (src instanceof Uint8Array) await write(src);
      else {
        const blk = blockBytes(t.type);
        const step = CHUNK - (CHUNK % blk); // chunks end on block boundaries so scales stay in place
        for (let at = 0; at < size; at += step) {
          const out = chunk.subarray(0, Math.min(step, size - at));
          src(out, at);
          await write(out);
        }
      }
      const pad = (ALIGNMENT - (size % ALIGNMENT)) % ALIGNMENT;
      if (pad && i < tensors.length - 1) await write(zeros.subarray(0, pad));
    }
    return { bytes: pos, headerBytes };
  } finally {
    await fh.close();
  }
}
