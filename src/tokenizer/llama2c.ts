import { WgllmError } from '../core/errors.js';
import { SPM_SPACE, parseByteToken } from './spm.js';
import { SpmTokenizer } from './spm-tokenizer.js';
import type { Tokenizer } from './types.js';

/**
 * llama2.c's `tokenizer.bin`: int32 max_token_length, then per token float32 score, int32 byte
 * length, bytes. The token count is not stored (llama2.c takes it from the model's vocab_size),
 * so entries are read to the end of the data, or `vocabSize` of them when given.
 *
 * The export writes SentencePiece's '▁' as a plain space and the three specials as "<unk>",
 * "\n<s>\n", "\n</s>\n". We store '▁' again and the specials without newlines so that ids, token
 * strings and encodings match the same model's GGUF and tokenizer.json. llama2.c hard-codes
 * BOS = 1 and EOS = 2, and never looks for special tokens in the input text.
 */
export interface Llama2cTokenizerOptions {
  /** number of tokens (the model header's vocab_size); default: all entries in the data */
  vocabSize?: number;
  /** llama2.c uses 1 and 2 */
  bosTokenId?: number;
  eosTokenId?: number;
}

export function tokenizerFromLlama2c(data: Uint8Array | ArrayBuffer, options: Llama2cTokenizerOptions = {}): Tokenizer {
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const truncated = (what: string): never => {
    throw new WgllmError('model_format', `tokenizer.bin is truncated or corrupt (${what}); is it a llama2.c tokenizer file?`);
  };
  if (bytes.length < 4) truncated('no header');
  const maxTokenLength = view.getInt32(0, true);
  if (maxTokenLength <= 0) truncated(`max_token_length ${maxTokenLength}`);

  const tokens: string[] = [];
  const scores: number[] = [];
  let off = 4;
  while (off < bytes.length && (options.vocabSize === undefined || tokens.length < options.vocabSize)) {
    if (off + 8 > bytes.length) truncated(`entry ${tokens.length} header`);
    scores.push(view.getFloat32(off, true));
    const len = view.getInt32(off + 4, true);
    off += 8;
    if (len < 0 || len > maxTokenLength || off + len > bytes.length) truncated(`entry ${tokens.length} length ${len}`);
    let text: string;
    try {
      text = utf8.decode(bytes.subarray(off, off + len));
    } catch (e) {
      throw new WgllmError('model_format', `tokenizer.bin entry ${tokens.length} is not UTF-8`, { cause: e });
    }
    tokens.push(text);
    off += len;
  }
  if (options.vocabSize !== undefined && tokens.length !== options.vocabSize) {
    truncated(`${tokens.length} entries, the model expects ${options.vocabSize}`);
  }

  const bos = options.bosTokenId ?? 1;
  const eos = options.eosTokenId ?? 2;
  const special = new Set<number>();
  const byteTokens = new Set<number>();
  let unk: number | undefined;
  tokens.forEach((t, id) => {
    const trimmed = t.trim();
    if (id === bos || id === eos || trimmed === '<unk>') {
      tokens[id] = trimmed;
      special.add(id);
      if (trimmed === '<unk>') unk = id;
    } else if (parseByteToken(t) !== undefined) {
      byteTokens.add(id);
    } else {
      tokens[id] = t.replaceAll(' ', SPM_SPACE);
    }
  });

  return new SpmTokenizer({
    kind: 'llama2c',
    tokens,
    scores,
    byteTokens,
    special,
    matchInText: [],
    literal: new Set(),
    specialTokenIds: { bos, eos, ...(unk !== undefined ? { unk } : {}) },
    addBos: true,
    addEos: false,
    addSpacePrefix: true,
    chatTemplate: undefined,
  });
}
