import { WgllmError } from '../core/errors.js';

/**
 * GGUF byte-level BPE vocabularies name their pre-tokenizer (`tokenizer.ggml.pre`) instead of
 * storing it. These are llama.cpp's regex lists for those names (llama-vocab.cpp), applied one
 * after the other, each splitting the pieces of the previous one and keeping the text between
 * matches, which is HF's `Split(behavior: Isolated)`. Case-insensitive groups are spelled out as
 * llama.cpp does ('[sS]'), since JS regexes only gained `(?i:)` recently.
 */
export interface PreTokenizerSpec {
  regexes: readonly string[];
  /** a pre-token that is itself in the vocabulary is emitted whole, without merges (Llama 3) */
  ignoreMerges: boolean;
  /** llama.cpp's add_bos default for this family, when the GGUF has no add_bos_token key */
  addBos: boolean;
}

const GPT2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
const CONTRACTIONS = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])";
const LLAMA3 = `${CONTRACTIONS}|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+`;
const QWEN2 = `${CONTRACTIONS}|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+`;

const spec = (regexes: string[], extra: Partial<PreTokenizerSpec> = {}): PreTokenizerSpec => ({
  regexes,
  ignoreMerges: false,
  addBos: false,
  ...extra,
});

const DEFAULT = spec(['[\\p{P}\\$\\+<=>\\^~\\|]+', GPT2, '\\p{N}+', '[0-9][0-9][0-9]']);
const LLAMA3_SPEC = spec([LLAMA3], { ignoreMerges: true, addBos: true });
const STARCODER = spec(['\\p{N}', GPT2]);
const GPT2_SPEC = spec([GPT2]);
const QWEN2_SPEC = spec([QWEN2]);

const BY_NAME: Readonly<Record<string, PreTokenizerSpec>> = {
  default: DEFAULT,
  ...named(['gpt-2', 'phi-2', 'mpt', 'olmo', 'jais', 'exaone4', 'trillion', 'mellum'], GPT2_SPEC),
  ...named(['llama3', 'llama-v3', 'llama-bpe', 'falcon3', 'falcon-h1', 'pixtral', 'midm-2.0', 'lfm2'], LLAMA3_SPEC),
  ...named(['dbrx', 'smaug-bpe'], spec([LLAMA3])),
  ...named(['qwen2', 'deepseek-r1-qwen', 'kormo', 'megrez', 'stablelm2', 'hunyuan'], QWEN2_SPEC),
  ...named(['smollm', 'starcoder', 'refact', 'command-r', 'codeshell', 'exaone', 'minerva-7b'], STARCODER),
  falcon: spec(['[\\p{P}\\$\\+<=>\\^~\\|`]+', GPT2, '[0-9][0-9][0-9]']),
};

function named(names: string[], s: PreTokenizerSpec): Record<string, PreTokenizerSpec> {
  return Object.fromEntries(names.map((n) => [n, s]));
}

export function preTokenizerSpec(name: string | undefined): PreTokenizerSpec {
  // llama.cpp falls back to 'default' when the key is missing (old conversions).
  const spec = BY_NAME[name ?? 'default'];
  if (spec === undefined) {
    throw new WgllmError(
      'model_unsupported',
      `GGUF pre-tokenizer '${name}' is not supported (known: ${Object.keys(BY_NAME).join(', ')}); ` +
        'load the model with its tokenizer.json instead',
    );
  }
  return spec;
}

/** The HF tokenizer.json `pre_tokenizer` section equivalent to `spec`. */
export function hfPreTokenizer(spec: PreTokenizerSpec): Record<string, unknown> {
  return {
    type: 'Sequence',
    pretokenizers: [
      ...spec.regexes.map((r) => ({ type: 'Split', pattern: { Regex: r }, behavior: 'Isolated', invert: false })),
      { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
    ],
  };
}
