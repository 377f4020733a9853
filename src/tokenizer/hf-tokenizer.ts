import { Tokenizer as HfLibTokenizer } from '@huggingface/tokenizers';
import { WgllmError } from '../core/errors.js';
import { BaseTokenizer } from './base.js';
import { withRustCompatiblePreTokenizer } from './hf-compat.js';
import { compileHfDecoder } from './hf-decoder.js';
import type { SpecialTokenIds, TokenizerKind } from './types.js';

/**
 * A tokenizer described by an HF `tokenizer.json` (+ `tokenizer_config.json`). Encoding is done
 * by `@huggingface/tokenizers` (normalizers, pre-tokenizers, BPE with byte fallback, added
 * tokens, post-processor); decoding by our per-token byte rule (see hf-decoder.ts) so that it
 * streams. GGUF byte-level BPE vocabularies are converted to this form too (gguf.ts).
 */

type Json = Record<string, unknown>;

export interface HfTokenizerInit {
  tokenizerJson: Json;
  tokenizerConfig?: Json;
  kind?: TokenizerKind;
  /** id -> string when the caller already has it (GGUF); else read from tokenizer.json */
  tokens?: readonly (string | undefined)[];
  /** ids known from elsewhere (GGUF metadata); they win over the names in tokenizerConfig */
  specialTokenIds?: SpecialTokenIds;
  /** more ids to treat as special */
  special?: ReadonlySet<number>;
}

export class HfTokenizer extends BaseTokenizer {
  private readonly lib: HfLibTokenizer;
  private readonly addBos: boolean;
  private readonly addEos: boolean;

  constructor(init: HfTokenizerInit) {
    const json = init.tokenizerJson;
    const config = init.tokenizerConfig ?? {};
    const model = json.model as Json | undefined;
    if (!model || typeof model !== 'object') {
      throw new WgllmError('model_format', 'tokenizer.json has no "model" section; is it a tokenizer.json file?');
    }
    const added = (Array.isArray(json.added_tokens) ? json.added_tokens : []) as Json[];
    const tokens = init.tokens ?? vocabList(model, added);
    const decoder = compileHfDecoder(json.decoder);

    const addedIds = new Set<number>();
    const special = new Set<number>(init.special);
    for (const t of added) {
      if (typeof t.id !== 'number') continue;
      addedIds.add(t.id);
      if (t.special === true) special.add(t.id);
    }
    const idOf = (v: unknown): number | undefined => {
      const s = tokenContent(v);
      if (s === undefined) return undefined;
      const id = tokens.lastIndexOf(s);
      return id >= 0 ? id : undefined;
    };
    const ids: SpecialTokenIds = {};
    for (const [key, field] of [
      ['bos', 'bos_token'],
      ['eos', 'eos_token'],
      ['unk', 'unk_token'],
      ['pad', 'pad_token'],
    ] as const) {
      const id = idOf(config[field]);
      if (id !== undefined) {
        ids[key] = id;
        special.add(id); // transformers' skip_special_tokens skips these too
      }
    }
    for (const [key, id] of Object.entries(init.specialTokenIds ?? {})) {
      ids[key as keyof SpecialTokenIds] = id;
      special.add(id);
    }
    if (Array.isArray(config.additional_special_tokens)) {
      for (const t of config.additional_special_tokens) {
        const id = idOf(t);
        if (id !== undefined) special.add(id);
      }
    }

    super({
      kind: init.kind ?? 'hf',
      tokens,
      special,
      specialTokenIds: ids,
      chatTemplate: pickChatTemplate(config.chat_template),
      leadingSpacesToStrip: decoder.leadingSpacesToStrip,
      // Added tokens are literal text; only vocabulary pieces go through the decoder.
      pieceBytes: (id, token) => (addedIds.has(id) ? utf8.encode(token) : decoder.pieceBytes(token)),
    });
    try {
      this.lib = new HfLibTokenizer(withRustCompatiblePreTokenizer(json), config);
    } catch (e) {
      throw new WgllmError('model_format', `tokenizer.json could not be loaded: ${String(e)}`, { cause: e });
    }
    this.addBos = config.add_bos_token === true;
    this.addEos = config.add_eos_token === true;
  }

  protected encodeText(text: string, addSpecial: boolean): number[] {
    // Ids are undefined for text the vocabulary cannot express and that has no <unk>; HF's Rust
    // BPE drops such characters too.
    const ids = this.lib
      .encode(text, { add_special_tokens: addSpecial })
      .ids.filter((id): id is number => typeof id === 'number');
    if (addSpecial) {
      // add_bos_token/add_eos_token in tokenizer_config make transformers add them even when
      // tokenizer.json's post-processor does not.
      const { bos, eos } = this.specialTokenIds;
      if (this.addBos && bos !== undefined && ids[0] !== bos) ids.unshift(bos);
      if (this.addEos && eos !== undefined && ids[ids.length - 1] !== eos) ids.push(eos);
    }
    return ids;
  }
}

const utf8 = new TextEncoder();

function vocabList(model: Json, added: Json[]): (string | undefined)[] {
  const tokens: (string | undefined)[] = [];
  const vocab = model.vocab;
  if (Array.isArray(vocab)) {
    // Unigram: [[piece, score], ...]
    vocab.forEach((entry, id) => {
      if (Array.isArray(entry) && typeof entry[0] === 'string') tokens[id] = entry[0];
    });
  } else if (vocab && typeof vocab === 'object') {
    for (const [tok, id] of Object.entries(vocab as Record<string, unknown>)) {
      if (typeof id === 'number') tokens[id] = tok;
    }
  } else {
    throw new WgllmError('model_format', 'tokenizer.json model has no vocab');
  }
  for (const t of added) {
    if (typeof t.id === 'number' && typeof t.content === 'string') tokens[t.id] = t.content;
  }
  return Array.from(tokens); // fills holes with undefined explicitly
}

/** tokenizer_config stores special tokens as strings or as AddedToken objects ({content}). */
function tokenContent(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as Json).content === 'string') return (v as Json).content as string;
  return undefined;
}

/** chat_template is a string, or a list of named templates of which 'default' is the chat one. */
function pickChatTemplate(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) {
    const named = v as { name?: unknown; template?: unknown }[];
    const t = named.find((x) => x.name === 'default') ?? named[0];
    if (t && typeof t.template === 'string') return t.template;
  }
  return undefined;
}
