/**
 * The one tokenizer interface the engine sees, whatever the vocabulary came from (HF
 * tokenizer.json, GGUF metadata, llama2.c tokenizer.bin).
 *
 * Decoding is defined in bytes: every token contributes a fixed byte string (`tokenBytes`), text
 * is the UTF-8 decoding of their concatenation. That single rule is what lets the streaming
 * detokenizer produce exactly what `decode()` produces, one token at a time.
 */

export type TokenizerKind = 'hf' | 'gguf-spm' | 'gguf-bpe' | 'llama2c';

export interface EncodeOptions {
  /**
   * Add the model's BOS/EOS as its config says (HF post-processor / add_bos_token, GGUF
   * add_bos_token, llama2.c: BOS). Default true, as in HF `encode` and llama.cpp `add_special`.
   */
  addSpecialTokens?: boolean;
}

export interface DecodeOptions {
  /** Leave out tokens marked special (BOS, EOS, chat control tokens). Default false. */
  skipSpecialTokens?: boolean;
}

/** Ids of the tokens with a fixed role; absent when the model has none. */
export interface SpecialTokenIds {
  bos?: number;
  eos?: number;
  unk?: number;
  pad?: number;
  /** end of turn (GGUF `tokenizer.ggml.eot_token_id`), when it differs from eos */
  eot?: number;
}

export interface SpecialToken {
  id: number;
  content: string;
}

export interface Tokenizer {
  readonly kind: TokenizerKind;
  /** Number of token ids (embedding rows the vocabulary needs), added tokens included. */
  readonly vocabSize: number;
  readonly bosTokenId: number | undefined;
  readonly eosTokenId: number | undefined;
  readonly specialTokenIds: Readonly<SpecialTokenIds>;
  /** Tokens that `decode(..., {skipSpecialTokens: true})` leaves out, in id order. */
  readonly specialTokens: readonly SpecialToken[];
  /** The Jinja chat template shipped with the model, if any. */
  readonly chatTemplate: string | undefined;
  /**
   * Spaces dropped from the start of decoded text. SentencePiece-style tokenizers prepend a
   * space ('▁') when encoding and remove it when decoding (HF `Strip` decoder); byte-level BPE: 0.
   */
  readonly leadingSpacesToStrip: number;

  encode(text: string, options?: EncodeOptions): number[];
  /** Text of `ids` (an array, or a typed array read back from the GPU). */
  decode(ids: Iterable<number>, options?: DecodeOptions): string;
  /** The vocabulary string of `id` ('▁the', 'Ġthe', '<0x0A>', '<|im_start|>'), undefined if out of range. */
  idToToken(id: number): string | undefined;
  tokenToId(token: string): number | undefined;
  isSpecialToken(id: number): boolean;
  /** The UTF-8 bytes `id` adds to decoded text (before the leading-space strip). Throws on a bad id. */
  tokenBytes(id: number): Uint8Array;
}

export interface ChatMessage {
  role: string;
  content: string;
  [key: string]: unknown;
}
