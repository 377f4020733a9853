import { WgllmError } from '../core/errors.js';

/**
 * Typed reads of GGUF metadata given as a plain object. Readers differ in how they hand values
 * over (plain arrays or typed arrays, number or bigint for 64-bit integers), so accept all of them.
 */
export type GgufMetadata = Readonly<Record<string, unknown>>;

/** GGUF `tokenizer.ggml.token_type` values (llama.cpp `llama_token_type`). */
export const TokenType = {
  normal: 1,
  unknown: 2,
  control: 3,
  userDefined: 4,
  unused: 5,
  byte: 6,
} as const;

const bad = (key: string, what: string): never => {
  throw new WgllmError('model_format', `GGUF metadata ${key} should be ${what}`);
};

export function optString(md: GgufMetadata, key: string): string | undefined {
  const v = md[key];
  if (v === undefined) return undefined;
  return typeof v === 'string' ? v : bad(key, 'a string');
}

export function optBool(md: GgufMetadata, key: string): boolean | undefined {
  const v = md[key];
  if (v === undefined) return undefined;
  return typeof v === 'boolean' ? v : bad(key, 'a boolean');
}

/** A token id; absent, or -1 / 0xFFFFFFFF (how converters write "none"), gives undefined. */
export function optTokenId(md: GgufMetadata, key: string, vocabSize: number): number | undefined {
  const v = md[key];
  if (v === undefined) return undefined;
  const n = typeof v === 'bigint' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n)) return bad(key, 'an integer token id');
  return n >= 0 && n < vocabSize ? n : undefined;
}

export function stringArray(md: GgufMetadata, key: string): string[] {
  const v = md[key];
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) return bad(key, 'an array of strings');
  return v as string[];
}

export function optStringArray(md: GgufMetadata, key: string): string[] | undefined {
  return md[key] === undefined ? undefined : stringArray(md, key);
}

export function optNumberArray(md: GgufMetadata, key: string, length: number): ArrayLike<number> | undefined {
  const v = md[key];
  if (v === undefined) return undefined;
  let arr: ArrayLike<number>;
  if (ArrayBuffer.isView(v) && !(v instanceof DataView)) {
    arr = Array.from(v as unknown as ArrayLike<number | bigint>, Number);
  } else if (Array.isArray(v)) {
    arr = v.map((x) => (typeof x === 'bigint' ? Number(x) : x)) as number[];
    if (!(arr as unknown[]).every((x) => typeof x === 'number')) return bad(key, 'an array of numbers');
  } else {
    return bad(key, 'an array of numbers');
  }
  if (arr.length !== length) return bad(key, `an array of ${length} entries (one per token), not ${arr.length}`);
  return arr;
}
