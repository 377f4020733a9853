/**
 * Test fixtures: the shared model folder (read-only, never copied into the repo) and readers for
 * its reference files. A missing file fails the test that needs it; nothing is skipped.
 */
import { readFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gguf } from '@huggingface/gguf';

export const MODELS_DIR = fileURLToPath(new URL('../../../shared/models/', import.meta.url));

export function modelPath(rel: string): string {
  const p = MODELS_DIR + rel;
  if (!existsSync(p)) throw new Error(`test fixture ${p} is missing (see /work/shared/models/README.md)`);
  return p;
}

export function readJson<T = any>(rel: string): T {
  return JSON.parse(readFileSync(modelPath(rel), 'utf8')) as T;
}

export function readBytes(rel: string): Uint8Array {
  return new Uint8Array(readFileSync(modelPath(rel)));
}

export async function ggufMetadata(rel: string): Promise<Record<string, unknown>> {
  const { metadata } = await gguf(modelPath(rel), { allowLocalFile: true });
  return metadata as unknown as Record<string, unknown>;
}

/** The four random-weight models that share SmolLM2's real tokenizer. */
export const TINY_MODELS = ['tiny-smollm2', 'tiny-qwen2', 'tiny-qwen3', 'tiny-llama3'] as const;

export interface ReferencePrompt {
  name: string;
  kind: string;
  text?: string;
  messages?: { role: string; content: string }[];
  add_generation_prompt?: boolean;
  rendered?: string;
  hf: { ids: number[]; greedy: { ids: number[]; text: string } };
  llama_cpp: Record<string, { ids: number[]; ids_match_hf: boolean; greedy: { ids: number[]; text: string } }>;
}

export interface ModelReference {
  gguf_files: Record<string, unknown>;
  prompts: ReferencePrompt[];
}

/** The text that was tokenized: the plain prompt, or the rendered chat. */
export function promptText(p: ReferencePrompt): string {
  const t = p.text ?? p.rendered;
  if (t === undefined) throw new Error(`reference prompt ${p.name} has neither text nor rendered`);
  return t;
}

const references = new Map<string, ModelReference>();

/** reference.json of a tiny model (5 MB each: parsed once per test file; treat as read-only). */
export function tinyReference(model: string): ModelReference {
  let ref = references.get(model);
  if (ref === undefined) {
    ref = readJson<ModelReference>(`${model}/reference.json`);
    references.set(model, ref);
  }
  return ref;
}

/** smollm2-135m-instruct-tokenizer/tokenizer-test-vectors.json */
export interface TokenizerTestVectors {
  vectors: { text: string; ids: number[]; tokens: string[]; decode_roundtrip_equal: boolean }[];
}

/**
 * Strings beyond the references, for cross-checking tokenizers against each other: every script
 * and whitespace shape that tends to break tokenizers, deterministic (seeded), no '<' so that
 * literal special-token text cannot appear (llama2.c never parses it; the others do).
 */
export function mixedStrings(count: number, seed = 1): string[] {
  const pieces = [
    'the', ' the', 'The', ' quick', ' brown', 'fox', 'Once', ' upon', ' a', ' time', ',', '.', '!', '?', "'s", "'ll",
    ' ', '  ', '   ', '\t', '\n', '\n\n', '\r\n', ' \n ', '0', '12', '345', '2024', '3.14', 'é', 'naïve', 'café', 'Ünï',
    '你好', '世界', '，', 'こんにちは', '안녕', 'Привет', 'мир', '∑', 'x²', '≤', '∞', '“', '”', '—', '…', '😀', '🌍', '🚀',
    '👩‍💻', '🇫🇷', '\u00a0', '\u2581', '\ufeff', 'ǅ', 'ﬁ', 'Ω', 'def', '(x):', '    return', '{', '}', '[]', '=>', '#',
  ];
  let s = seed >>> 0;
  const rand = (n: number) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % n;
  };
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    let str = '';
    const len = rand(12);
    for (let j = 0; j < len; j++) str += pieces[rand(pieces.length)];
    out.push(str);
  }
  return out;
}
