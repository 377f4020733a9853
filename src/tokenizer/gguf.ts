import { WgllmError } from '../core/errors.js';
import type { GgufMetadata } from './gguf-metadata.js';
import {
  TokenType,
  optBool,
  optNumberArray,
  optString,
  optStringArray,
  optTokenId,
  stringArray,
} from './gguf-metadata.js';
import { hfPreTokenizer, preTokenizerSpec } from './gguf-pretokenizers.js';
import { HfTokenizer } from './hf-tokenizer.js';
import { SpmTokenizer } from './spm-tokenizer.js';
import type { SpecialToken, SpecialTokenIds, Tokenizer } from './types.js';

/**
 * The tokenizer stored in a GGUF file's metadata (`tokenizer.ggml.*`), with llama.cpp's
 * semantics: 'llama' = SentencePiece with scores and byte tokens, 'gpt2' = byte-level BPE with
 * merges and a named pre-tokenizer. Byte-level BPE is turned into an HF tokenizer.json object
 * and encoded by @huggingface/tokenizers; SPM uses our own merge-by-score encoder.
 */
export function tokenizerFromGguf(md: GgufMetadata): Tokenizer {
  const model = optString(md, 'tokenizer.ggml.model');
  if (model === undefined) {
    throw new WgllmError('model_format', 'this GGUF file has no tokenizer (tokenizer.ggml.model is missing)');
  }
  const tokens = stringArray(md, 'tokenizer.ggml.tokens');
  const n = tokens.length;
  const types = optNumberArray(md, 'tokenizer.ggml.token_type', n) ?? new Array<number>(n).fill(TokenType.normal);
  const ids = specialIds(md, n);
  const chatTemplate = optString(md, 'tokenizer.chat_template');
  switch (model) {
    case 'llama':
      return spmFromGguf(md, tokens, types, ids, chatTemplate);
    case 'gpt2':
      return bpeFromGguf(md, tokens, types, ids, chatTemplate);
    default:
      throw new WgllmError(
        'model_unsupported',
        `GGUF tokenizer model '${model}' is not supported (supported: 'llama' (SentencePiece), 'gpt2' (byte-level BPE))`,
      );
  }
}

function specialIds(md: GgufMetadata, n: number): SpecialTokenIds {
  const ids: SpecialTokenIds = {};
  const keys = [
    ['bos', 'bos_token_id'],
    ['eos', 'eos_token_id'],
    ['unk', 'unknown_token_id'],
    ['pad', 'padding_token_id'],
    ['eot', 'eot_token_id'],
  ] as const;
  for (const [k, key] of keys) {
    const id = optTokenId(md, `tokenizer.ggml.${key}`, n);
    if (id !== undefined) ids[k] = id;
  }
  return ids;
}

/** What llama.cpp does with each token type when encoding and decoding. */
function classify(tokens: readonly string[], types: ArrayLike<number>, ids: SpecialTokenIds) {
  const special = new Set<number>(); // control + unknown: skipped by skipSpecialTokens
  const literal = new Set<number>(); // user-defined: literal text, kept
  const matchInText: SpecialToken[] = []; // recognised when written in the input
  for (let id = 0; id < tokens.length; id++) {
    const t = types[id];
    if (t === TokenType.control || t === TokenType.unknown) special.add(id);
    else if (t === TokenType.userDefined) literal.add(id);
    else continue;
    matchInText.push({ id, content: tokens[id]! });
  }
  for (const id of [ids.bos, ids.eos, ids.eot]) if (id !== undefined) special.add(id);
  return { special, literal, matchInText };
}

function spmFromGguf(
  md: GgufMetadata,
  tokens: string[],
  types: ArrayLike<number>,
  ids: SpecialTokenIds,
  chatTemplate: string | undefined,
): Tokenizer {
  const n = tokens.length;
  const scores = optNumberArray(md, 'tokenizer.ggml.scores', n) ?? new Array<number>(n).fill(0);
  // llama.cpp's SPM defaults when the keys are absent: bos 1, eos 2, unk 0.
  const withDefaults: SpecialTokenIds = { bos: 1, eos: 2, unk: 0, ...ids };
  const byteTokens = new Set<number>();
  for (let id = 0; id < n; id++) if (types[id] === TokenType.byte) byteTokens.add(id);
  return new SpmTokenizer({
    kind: 'gguf-spm',
    tokens,
    scores,
    byteTokens,
    ...classify(tokens, types, withDefaults),
    specialTokenIds: withDefaults,
    addBos: optBool(md, 'tokenizer.ggml.add_bos_token') ?? true,
    addEos: optBool(md, 'tokenizer.ggml.add_eos_token') ?? false,
    addSpacePrefix: optBool(md, 'tokenizer.ggml.add_space_prefix') ?? true,
    chatTemplate,
  });
}

function bpeFromGguf(
  md: GgufMetadata,
  tokens: string[],
  types: ArrayLike<number>,
  ids: SpecialTokenIds,
  chatTemplate: string | undefined,
): Tokenizer {
  const merges = optStringArray(md, 'tokenizer.ggml.merges');
  if (merges === undefined) {
    throw new WgllmError('model_format', 'GGUF byte-level BPE tokenizer has no tokenizer.ggml.merges');
  }
  const pre = preTokenizerSpec(optString(md, 'tokenizer.ggml.pre'));
  // User-defined tokens become non-special added tokens: literal text, matched in the input, kept by decode.
  const { special, matchInText } = classify(tokens, types, ids);

  const vocab: Record<string, number> = {};
  tokens.forEach((t, id) => {
    vocab[t] = id;
  });
  const tokenizerJson = {
    version: '1.0',
    added_tokens: matchInText.map(({ id, content }) => ({
      id,
      content,
      special: special.has(id),
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
    })),
    normalizer: null,
    pre_tokenizer: hfPreTokenizer(pre),
    post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
    model: {
      type: 'BPE',
      vocab,
      // GGUF writes a merge as "left right"; a left half never contains a space in byte-level
      // vocabularies (space is 'Ġ'), so the first space separates the halves.
      merges: merges.map((m) => {
        const at = m.indexOf(' ', 1);
        return at < 0 ? [m, ''] : [m.slice(0, at), m.slice(at + 1)];
      }),
      ignore_merges: pre.ignoreMerges,
      byte_fallback: false,
      fuse_unk: false,
      unk_token: null,
      dropout: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
    },
  };
  const name = (id: number | undefined) => (id === undefined ? undefined : tokens[id]);
  const tokenizerConfig = {
    bos_token: name(ids.bos),
    eos_token: name(ids.eos),
    unk_token: name(ids.unk),
    pad_token: name(ids.pad),
    add_bos_token: optBool(md, 'tokenizer.ggml.add_bos_token') ?? pre.addBos,
    add_eos_token: optBool(md, 'tokenizer.ggml.add_eos_token') ?? false,
    clean_up_tokenization_spaces: false,
    chat_template: chatTemplate,
  };
  return new HfTokenizer({ tokenizerJson, tokenizerConfig, kind: 'gguf-bpe', tokens, special, specialTokenIds: ids });
}
