/**
 * GGUF (llama.cpp) container: header, metadata key/values, tensor infos, aligned data section.
 * Versions 2 and 3, little-endian. Written here rather than taken from @huggingface/gguf because
 * that reads from a URL or a path, not from our ByteSource, and we want every bound checked with
 * errors that name the file and the tensor.
 *
 * Layout: "GGUF" u32 version, u64 tensorCount, u64 kvCount, kv[kvCount], tensorInfo[tensorCount],
 * padding to `general.alignment` (default 32), then the data; each tensor's u64 offset is relative
 * to the data start and aligned. Tensor dims are stored innermost first (ne[0] = row length).
 */
import type { DType } from '../../core/dtype.js';
import { blockFormat } from '../../core/dtype.js';
import { WgllmError } from '../../core/errors.js';
import type { ByteSource } from '../../core/platform.js';
import { ByteReader, formatError } from './byte-reader.js';

/** A metadata value: integers that do not fit a double stay bigint; arrays hold their elements. */
export type GgufValue = number | bigint | boolean | string | GgufValue[];

export interface GgufTensorInfo {
  name: string;
  /** ne[0..n): innermost first, as stored */
  dims: number[];
  /** ggml type id */
  typeId: number;
  dtype: DType;
  /** absolute byte offset in the file (data start + the stored offset) */
  byteOffset: number;
  byteLength: number;
}

export interface GgufFile {
  source: ByteSource;
  version: number;
  metadata: Map<string, GgufValue>;
  tensors: GgufTensorInfo[];
  alignment: number;
  /** absolute offset of the data section */
  dataOffset: number;
}

/** ggml type ids we read, by id. */
const GGML_TYPES = new Map<number, DType>([
  [0, 'f32'],
  [1, 'f16'],
  [2, 'q4_0'],
  [6, 'q5_0'],
  [8, 'q8_0'],
  [12, 'q4_k'],
  [14, 'q6_k'],
  [30, 'bf16'],
]);

/** ggml type ids we do not read, named so that the error says what the file holds. */
const GGML_OTHER_TYPES: Record<number, string> = {
  3: 'Q4_1', 7: 'Q5_1', 9: 'Q8_1', 10: 'Q2_K', 11: 'Q3_K', 13: 'Q5_K', 15: 'Q8_K', 16: 'IQ2_XXS',
  17: 'IQ2_XS', 18: 'IQ3_XXS', 19: 'IQ1_S', 20: 'IQ4_NL', 21: 'IQ3_S', 22: 'IQ2_S', 23: 'IQ4_XS',
  24: 'I8', 25: 'I16', 26: 'I32', 27: 'I64', 28: 'F64', 29: 'IQ1_M', 34: 'TQ1_0', 35: 'TQ2_0', 39: 'MXFP4',
};

export function ggmlTypeName(typeId: number): string {
  const d = GGML_TYPES.get(typeId);
  return d ? d.toUpperCase() : (GGML_OTHER_TYPES[typeId] ?? `unknown type id ${typeId}`);
}

// GGUF metadata value types
const T_U8 = 0, T_I8 = 1, T_U16 = 2, T_I16 = 3, T_U32 = 4, T_I32 = 5, T_F32 = 6, T_BOOL = 7;
const T_STRING = 8, T_ARRAY = 9, T_U64 = 10, T_I64 = 11, T_F64 = 12;
const FIXED_SIZE: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };

const MAX_DIMS = 4; // GGML_MAX_DIMS
const MAX_NAME = 1024; // ggml allows 64; leave room, still refuse garbage lengths

function readScalar(r: ByteReader, type: number): GgufValue {
  switch (type) {
    case T_U8: return r.u8();
    case T_I8: return r.i8();
    case T_U16: return r.u16();
    case T_I16: return r.i16();
    case T_U32: return r.u32();
    case T_I32: return r.i32();
    case T_F32: return r.f32();
    case T_F64: return r.f64();
    case T_U64: return r.u64();
    case T_I64: return r.i64();
    case T_BOOL: {
      const b = r.u8();
      if (b > 1) throw r.error(`bool value ${b} is neither 0 nor 1`);
      return b === 1;
    }
    default: throw r.error(`unknown metadata value type ${type}`);
  }
}

async function readString(r: ByteReader, maxLen = r.remaining): Promise<string> {
  await r.need(8);
  const len = r.size64('string length', Math.min(maxLen, r.remaining));
  await r.need(len);
  return r.utf8(len);
}

async function readValue(r: ByteReader, type: number, depth: number): Promise<GgufValue> {
  if (type === T_STRING) return readString(r);
  if (type === T_ARRAY) {
    await r.need(12);
    const elemType = r.u32();
    const elemMin = FIXED_SIZE[elemType] ?? (elemType === T_STRING || elemType === T_ARRAY ? 8 : 0);
    if (elemMin === 0) throw r.error(`unknown array element type ${elemType}`);
    if (elemType === T_ARRAY && depth >= 2) throw r.error('arrays nested deeper than 2');
    const count = r.size64('array length', Math.floor(r.remaining / elemMin));
    const out: GgufValue[] = new Array<GgufValue>(count);
    const fixed = FIXED_SIZE[elemType];
    if (fixed !== undefined) {
      await r.need(count * fixed);
      for (let i = 0; i < count; i++) out[i] = readScalar(r, elemType);
    } else {
      for (let i = 0; i < count; i++) out[i] = await readValue(r, elemType, depth + 1);
    }
    return out;
  }
  const size = FIXED_SIZE[type];
  if (size === undefined) throw r.error(`unknown metadata value type ${type}`);
  await r.need(size);
  return readScalar(r, type);
}

async function readHeader(r: ByteReader): Promise<{ version: number; tensorCount: number; kvCount: number }> {
  r.context = 'GGUF header';
  await r.need(24);
  const magic = r.bytes(4);
  if (String.fromCharCode(...magic) !== 'GGUF') {
    const shown = Array.from(magic, (b) => b.toString(16).padStart(2, '0')).join(' ');
    throw formatError(r.source, `not a GGUF file (magic bytes ${shown}, expected 47 47 55 46 "GGUF")`);
  }
  const version = r.u32();
  if (version === 1) {
    throw new WgllmError('model_unsupported', `${r.source.name}: GGUF version 1 (2023) is not supported; reconvert the model with a current llama.cpp`);
  }
  if (version === 0x02000000 || version === 0x03000000) {
    throw new WgllmError('model_unsupported', `${r.source.name}: big-endian GGUF is not supported`);
  }
  if (version !== 2 && version !== 3) throw formatError(r.source, `unknown GGUF version ${version}`);
  // Smallest tensor info: 8 (name length) + 4 (n_dims) + 4 (type) + 8 (offset); smallest kv: 8 + 4 + 1.
  const tensorCount = r.size64('tensor count', Math.floor(r.remaining / 24));
  const kvCount = r.size64('metadata count', Math.floor(r.remaining / 13));
  return { version, tensorCount, kvCount };
}

async function readMetadata(r: ByteReader, kvCount: number): Promise<Map<string, GgufValue>> {
  const metadata = new Map<string, GgufValue>();
  for (let i = 0; i < kvCount; i++) {
    r.context = `metadata entry ${i} key`;
    const key = await readString(r, MAX_NAME);
    r.context = `metadata key '${key}'`;
    if (metadata.has(key)) throw r.error(`duplicate metadata key '${key}'`);
    await r.need(4);
    const type = r.u32();
    metadata.set(key, await readValue(r, type, 0));
  }
  return metadata;
}

function alignmentOf(r: ByteReader, metadata: Map<string, GgufValue>): number {
  const a = metadata.get('general.alignment');
  if (a === undefined) return 32;
  if (typeof a !== 'number' || !Number.isInteger(a) || a <= 0 || (a & (a - 1)) !== 0 || a > 1 << 24) {
    throw formatError(r.source, `general.alignment ${String(a)} is not a power of two`);
  }
  return a;
}

interface RawTensor { name: string; dims: number[]; typeId: number; offset: number }

async function readTensorInfos(r: ByteReader, tensorCount: number): Promise<RawTensor[]> {
  const raw: RawTensor[] = [];
  const names = new Set<string>();
  for (let i = 0; i < tensorCount; i++) {
    r.context = `tensor info ${i}`;
    const name = await readString(r, MAX_NAME);
    r.context = `tensor info ${i} '${name}'`;
    if (names.has(name)) throw r.error(`duplicate tensor '${name}'`);
    names.add(name);
    await r.need(4);
    const nDims = r.u32();
    if (nDims < 1 || nDims > MAX_DIMS) throw r.error(`tensor '${name}' has ${nDims} dims (1..${MAX_DIMS} allowed)`);
    await r.need(nDims * 8 + 12);
    const dims: number[] = [];
    for (let d = 0; d < nDims; d++) dims.push(r.size64(`tensor '${name}' dim ${d}`, 2 ** 40));
    const typeId = r.u32();
    const offset = r.u64();
    if (typeof offset !== 'number' || offset > r.source.size) {
      throw r.error(`tensor '${name}' data offset ${offset} lies past the end of the file (${r.source.size} bytes): truncated or corrupt`);
    }
    raw.push({ name, dims, typeId, offset });
  }
  return raw;
}

function placeTensor(src: ByteSource, t: RawTensor, dataOffset: number, alignment: number): GgufTensorInfo {
  const dtype = GGML_TYPES.get(t.typeId);
  if (dtype === undefined) {
    throw new WgllmError(
      'model_unsupported',
      `${src.name}: tensor '${t.name}' has type ${ggmlTypeName(t.typeId)}, which this engine does not read ` +
        `(supported: F32, F16, BF16, Q8_0, Q4_0, Q5_0, Q4_K, Q6_K); requantize the model to one of those`,
    );
  }
  const { blockElems, blockBytes } = blockFormat(dtype);
  const ne0 = t.dims[0]!;
  if (ne0 % blockElems !== 0) {
    throw formatError(src, `tensor '${t.name}' row length ${ne0} is not a multiple of the ${dtype} block (${blockElems})`);
  }
  let byteLength = (ne0 / blockElems) * blockBytes;
  for (let d = 1; d < t.dims.length; d++) byteLength *= t.dims[d]!;
  if (!Number.isSafeInteger(byteLength)) throw formatError(src, `tensor '${t.name}' dims [${t.dims}] are too large`);
  if (t.offset % alignment !== 0) {
    throw formatError(src, `tensor '${t.name}' data offset ${t.offset} is not aligned to ${alignment}`);
  }
  const byteOffset = dataOffset + t.offset;
  if (byteOffset + byteLength > src.size) {
    throw formatError(
      src,
      `tensor '${t.name}' data (bytes ${byteOffset}..${byteOffset + byteLength}) lies past the end of the file ` +
        `(${src.size} bytes): the file is truncated or corrupt`,
    );
  }
  return { name: t.name, dims: t.dims, typeId: t.typeId, dtype, byteOffset, byteLength };
}

/** Parses a GGUF file's header, metadata and tensor infos (no tensor data is read). */
export async function parseGguf(source: ByteSource): Promise<GgufFile> {
  const r = new ByteReader(source);
  const { version, tensorCount, kvCount } = await readHeader(r);
  const metadata = await readMetadata(r, kvCount);
  const raw = await readTensorInfos(r, tensorCount);
  const alignment = alignmentOf(r, metadata);
  const dataOffset = Math.ceil(r.pos / alignment) * alignment;
  if (dataOffset > source.size && raw.length > 0) {
    throw formatError(source, `truncated: the data section would start at byte ${dataOffset}, past the end (${source.size})`);
  }
  const tensors = raw.map((t) => placeTensor(source, t, dataOffset, alignment));
  const sorted = tensors.filter((t) => t.byteLength > 0).sort((a, b) => a.byteOffset - b.byteOffset);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!, cur = sorted[i]!;
    if (cur.byteOffset < prev.byteOffset + prev.byteLength) {
      throw formatError(source, `tensors '${prev.name}' and '${cur.name}' overlap in the data section`);
    }
  }
  return { source, version, metadata, tensors, alignment, dataOffset };
}
