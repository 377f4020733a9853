/**
 * safetensors: u64 LE header length N, N bytes of JSON {name: {dtype, shape, data_offsets:
 * [begin, end]}, __metadata__?}, then the data; offsets are relative to the data start.
 * Sharded checkpoints add `model.safetensors.index.json` whose `weight_map` names each tensor's
 * shard. Tensors keep their file's names here; hf-model.ts maps them to canonical ones.
 */
import type { FloatDType } from '../../core/dtype.js';
import { isWgllmError, WgllmError } from '../../core/errors.js';
import type { ByteSource } from '../../core/platform.js';
import { formatError, readExact, readJson } from './byte-reader.js';
import type { OpenFile, TensorInfo } from './types.js';

const DTYPES: Record<string, FloatDType> = { F32: 'f32', F16: 'f16', BF16: 'bf16' };
const ITEM_SIZE: Record<FloatDType, number> = { f32: 4, f16: 2, bf16: 2 };
const MAX_HEADER = 100 << 20; // the safetensors library's own limit

export interface SafetensorsFile {
  source: ByteSource;
  /** `__metadata__`, string -> string */
  metadata: Record<string, string>;
  /** file's own tensor name -> tensor (shape as stored: outermost first) */
  tensors: Map<string, TensorInfo>;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

function parseEntry(src: ByteSource, name: string, e: unknown, dataStart: number, dataSize: number): TensorInfo {
  const bad = (why: string): WgllmError => formatError(src, `tensor '${name}': ${why}`);
  if (!isObject(e)) throw bad('header entry is not an object');
  const { dtype: st, shape, data_offsets: offs } = e;
  if (typeof st !== 'string') throw bad('dtype is missing');
  const dtype = DTYPES[st];
  if (!dtype) {
    throw new WgllmError('model_unsupported', `${src.name}: tensor '${name}' has dtype ${st}; only F32, F16 and BF16 safetensors are read`);
  }
  if (!Array.isArray(shape) || !shape.every(isCount) || shape.length > 8) throw bad(`shape ${JSON.stringify(shape)} is not a list of sizes`);
  if (!Array.isArray(offs) || offs.length !== 2 || !offs.every(isCount)) throw bad(`data_offsets ${JSON.stringify(offs)} is not [begin, end]`);
  const [begin, end] = offs as [number, number];
  const numel = (shape as number[]).reduce((a, b) => a * b, 1);
  if (end < begin || end > dataSize) {
    throw bad(`data bytes ${begin}..${end} lie outside the data section (${dataSize} bytes): the file is truncated or corrupt`);
  }
  if (end - begin !== numel * ITEM_SIZE[dtype]) {
    throw bad(`shape [${String(shape)}] of ${st} needs ${numel * ITEM_SIZE[dtype]} bytes but data_offsets span ${end - begin}`);
  }
  return { name, shape: shape as number[], dtype, byteOffset: dataStart + begin, byteLength: end - begin, source: src };
}

/** Parses one .safetensors file's header (no tensor data is read). */
export async function parseSafetensors(source: ByteSource): Promise<SafetensorsFile> {
  const head = new DataView((await readExact(source, 0, 8, 'header length')).buffer);
  const n = head.getBigUint64(0, true);
  if (n > BigInt(Math.min(MAX_HEADER, source.size - 8))) {
    throw formatError(source, `header length ${n} is impossible for a ${source.size}-byte file (not safetensors, or truncated)`);
  }
  const headerLen = Number(n);
  const bytes = await readExact(source, 8, headerLen, 'JSON header');
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    throw formatError(source, `header is not valid JSON: ${e instanceof Error ? e.message : String(e)}`, e);
  }
  if (!isObject(header)) throw formatError(source, 'header is not a JSON object');
  const dataStart = 8 + headerLen;
  const dataSize = source.size - dataStart;
  const tensors = new Map<string, TensorInfo>();
  let metadata: Record<string, string> = {};
  for (const [name, e] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (!isObject(e) || !Object.values(e).every((v) => typeof v === 'string')) {
        throw formatError(source, '__metadata__ is not a map of strings');
      }
      metadata = e as Record<string, string>;
      continue;
    }
    tensors.set(name, parseEntry(source, name, e, dataStart, dataSize));
  }
  // Tensors must not share bytes (the format requires a packed, non-overlapping layout).
  const sorted = [...tensors.values()].filter((t) => t.byteLength > 0).sort((a, b) => a.byteOffset - b.byteOffset);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!, cur = sorted[i]!;
    if (cur.byteOffset < prev.byteOffset + prev.byteLength) {
      throw formatError(source, `tensors '${prev.name}' and '${cur.name}' overlap`);
    }
  }
  return { source, metadata, tensors };
}

export const INDEX_FILE = 'model.safetensors.index.json';
export const SINGLE_FILE = 'model.safetensors';

function checkRelPath(indexName: string, p: string): string {
  if (p === '' || p.startsWith('/') || p.includes('\\') || p.split('/').some((s) => s === '..' || s === '.')) {
    throw formatError(indexName, `weight_map names shard '${p}', which is not a plain path inside the model folder`);
  }
  return p;
}

async function tryOpen(openFile: OpenFile, path: string): Promise<ByteSource | undefined> {
  try {
    return await openFile(path);
  } catch (e) {
    if (isWgllmError(e, 'not_found')) return undefined;
    throw e;
  }
}

/**
 * All tensors of an HF checkpoint folder: `model.safetensors.index.json` + shards if the index
 * exists, else `model.safetensors`. Returns the file names, tensors and the sources to close.
 */
export async function openSafetensorsSet(
  openFile: OpenFile,
): Promise<{ tensors: Map<string, TensorInfo>; sources: ByteSource[]; metadata: Record<string, string> }> {
  const sources: ByteSource[] = [];
  try {
    const index = await tryOpen(openFile, INDEX_FILE);
    if (!index) {
      const single = await tryOpen(openFile, SINGLE_FILE);
      if (!single) throw new WgllmError('not_found', `no ${SINGLE_FILE} or ${INDEX_FILE} in the model folder`);
      sources.push(single);
      const f = await parseSafetensors(single);
      return { tensors: f.tensors, sources, metadata: f.metadata };
    }
    let json: unknown;
    try {
      json = await readJson(index);
    } finally {
      await index.close();
    }
    const map = isObject(json) ? json.weight_map : undefined;
    if (!isObject(map)) throw formatError(index, 'has no weight_map object');
    const byShard = new Map<string, Set<string>>();
    for (const [name, file] of Object.entries(map)) {
      if (typeof file !== 'string') throw formatError(index, `weight_map['${name}'] is not a file name`);
      const set = byShard.get(checkRelPath(index.name, file)) ?? new Set<string>();
      set.add(name);
      byShard.set(file, set);
    }
    const tensors = new Map<string, TensorInfo>();
    for (const [file, names] of byShard) {
      const src = await openFile(file);
      sources.push(src);
      const f = await parseSafetensors(src);
      for (const name of names) {
        if (!f.tensors.has(name)) throw formatError(src, `tensor '${name}' is listed for this shard in ${INDEX_FILE} but is not in it`);
      }
      for (const [name, t] of f.tensors) {
        if (!names.has(name)) throw formatError(src, `tensor '${name}' is in this shard but ${INDEX_FILE} maps it elsewhere or not at all`);
        tensors.set(name, t);
      }
    }
    return { tensors, sources, metadata: {} };
  } catch (e) {
    await Promise.all(sources.map((s) => s.close().catch(() => undefined)));
    throw e;
  }
}
