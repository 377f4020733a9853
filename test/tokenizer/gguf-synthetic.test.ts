import { describe, expect, it } from 'vitest';
import { isWgllmError } from '../../src/core/errors.js';
import { bytesToByteLevel } from '../../src/tokenizer/byte-level.js';
import { loadTokenizer, tokenizerFromGguf } from '../../src/tokenizer/index.js';

/** Small synthetic GGUF metadata, to test what the real files do not exercise. */

const enc = new TextEncoder();
const bl = (s: string) => bytesToByteLevel(enc.encode(s));

function bpeMetadata(pre: string | undefined, extra: Record<string, unknown> = {}) {
  const tokens = ['<|bos|>', '<|eos|>', '<tool>'];
  const types = [3, 3, 4];
  for (let b = 0; b < 256; b++) {
    tokens.push(bytesToByteLevel(Uint8Array.of(b)));
    types.push(1);
  }
  const merges = ['1 2', '12 3', '4 5', '123 45', 'Ġ a', 'Ġa b'];
  for (const m of merges) {
    tokens.push(m.replace(' ', ''));
    types.push(1);
  }
  tokens.push('cd'); // in the vocabulary without a merge that forms it
  types.push(1);
  return {
    'tokenizer.ggml.model': 'gpt2',
    ...(pre === undefined ? {} : { 'tokenizer.ggml.pre': pre }),
    'tokenizer.ggml.tokens': tokens,
    'tokenizer.ggml.token_type': Int32Array.from(types), // some readers give typed arrays
    'tokenizer.ggml.merges': merges,
    'tokenizer.ggml.bos_token_id': 0n, // ... and bigint for integers
    'tokenizer.ggml.eos_token_id': 1,
    ...extra,
  };
}

const pieces = (md: Record<string, unknown>, text: string, add = false) => {
  const tok = tokenizerFromGguf(md);
  return tok.encode(text, { addSpecialTokens: add }).map((id) => tok.idToToken(id));
};

function code(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return isWgllmError(e) ? e.code : `not a WgllmError: ${String(e)}`;
  }
  return 'no error';
}

describe('GGUF byte-level BPE: pre-tokenizers by name', () => {
  it('splits digits as each family does', () => {
    expect(pieces(bpeMetadata('gpt-2'), '12345')).toEqual(['12345']); // one pre-token, all merges
    expect(pieces(bpeMetadata('llama-bpe'), '12345')).toEqual(['123', '45']); // \p{N}{1,3}
    expect(pieces(bpeMetadata('qwen2'), '12345')).toEqual(['1', '2', '3', '4', '5']);
    expect(pieces(bpeMetadata('smollm'), '12345')).toEqual(['1', '2', '3', '4', '5']);
    // llama.cpp's 'default' list splits runs of 3 digits
    expect(pieces(bpeMetadata('default'), '12345')).toEqual(['123', '45']);
    expect(pieces(bpeMetadata(undefined), '12345')).toEqual(['123', '45']);
  });

  it('Llama 3 emits a whole pre-token found in the vocabulary without merging (ignore_merges)', () => {
    expect(pieces(bpeMetadata('llama-bpe'), 'cd')).toEqual(['cd']);
    expect(pieces(bpeMetadata('gpt-2'), 'cd')).toEqual(['c', 'd']);
  });

  it('adds BOS by default only for Llama 3 family, unless the GGUF says otherwise', () => {
    expect(pieces(bpeMetadata('llama-bpe'), ' ab', true)).toEqual(['<|bos|>', bl(' ab')]);
    expect(pieces(bpeMetadata('qwen2'), ' ab', true)).toEqual([bl(' ab')]);
    expect(pieces(bpeMetadata('qwen2', { 'tokenizer.ggml.add_bos_token': true, 'tokenizer.ggml.add_eos_token': true }), 'x', true)).toEqual([
      '<|bos|>',
      'x',
      '<|eos|>',
    ]);
  });

  it('compiles every known pre-tokenizer pattern', () => {
    for (const pre of ['default', 'gpt-2', 'llama3', 'dbrx', 'qwen2', 'stablelm2', 'smollm', 'starcoder', 'falcon', 'command-r']) {
      const tok = tokenizerFromGguf(bpeMetadata(pre));
      const s = "It's 2024!  Ünïcode\t\n 你好 😀";
      expect(tok.decode(tok.encode(s, { addSpecialTokens: false })), pre).toBe(s);
    }
  });

  it('treats user-defined tokens as literal, non-special text and control tokens as special', () => {
    const tok = tokenizerFromGguf(bpeMetadata('gpt-2'));
    const ids = tok.encode('a<tool>b<|eos|>', { addSpecialTokens: false });
    expect(ids.map((id) => tok.idToToken(id))).toEqual(['a', '<tool>', 'b', '<|eos|>']);
    expect(tok.decode(ids, { skipSpecialTokens: true })).toBe('a<tool>b');
    expect(tok.isSpecialToken(2)).toBe(false);
    expect(tok.specialTokens.map((t) => t.content)).toEqual(['<|bos|>', '<|eos|>']);
    expect([tok.bosTokenId, tok.eosTokenId]).toEqual([0, 1]);
  });
});

describe('GGUF SentencePiece: options', () => {
  const spm = (extra: Record<string, unknown> = {}) => ({
    'tokenizer.ggml.model': 'llama',
    'tokenizer.ggml.tokens': ['<unk>', '<s>', '</s>', '▁', 'a', '▁a', '<0x0A>', '<extra>'],
    'tokenizer.ggml.scores': new Float32Array([0, 0, 0, -1, -2, -0.5, 0, 0]),
    'tokenizer.ggml.token_type': [2, 3, 3, 1, 1, 1, 6, 4],
    ...extra,
  });

  it('uses llama.cpp defaults: BOS 1, EOS 2, add BOS, prefix space', () => {
    const tok = tokenizerFromGguf(spm());
    expect(tok.encode('a a')).toEqual([1, 5, 5]);
    expect(tok.decode([1, 5, 5], { skipSpecialTokens: true })).toBe('a a');
    expect(tok.encode('a\n', { addSpecialTokens: false })).toEqual([5, 6]);
    expect(tok.encode('<extra>a', { addSpecialTokens: false })).toEqual([7, 5]); // space prefix after it, too
    expect(tok.decode([7, 5], { skipSpecialTokens: true })).toBe('<extra> a'); // user-defined: kept
  });

  it('honours add_space_prefix = false and add_bos_token = false', () => {
    const tok = tokenizerFromGguf(spm({ 'tokenizer.ggml.add_space_prefix': false, 'tokenizer.ggml.add_bos_token': false }));
    expect(tok.encode('a a')).toEqual([4, 5]);
    expect(tok.leadingSpacesToStrip).toBe(0);
    expect(tok.decode([5])).toBe(' a');
  });
});

describe('GGUF metadata errors', () => {
  it('says what is wrong with a WgllmError', () => {
    expect(code(() => tokenizerFromGguf({}))).toBe('model_format');
    expect(code(() => tokenizerFromGguf({ 'tokenizer.ggml.model': 'bert', 'tokenizer.ggml.tokens': [] }))).toBe('model_unsupported');
    expect(code(() => tokenizerFromGguf(bpeMetadata('tekken')))).toBe('model_unsupported');
    expect(() => tokenizerFromGguf(bpeMetadata('tekken'))).toThrow(/pre-tokenizer 'tekken'.*tokenizer\.json/);
    expect(code(() => tokenizerFromGguf({ ...bpeMetadata('gpt-2'), 'tokenizer.ggml.merges': undefined }))).toBe('model_format');
    expect(code(() => tokenizerFromGguf({ ...bpeMetadata('gpt-2'), 'tokenizer.ggml.token_type': [1, 2] }))).toBe('model_format');
    expect(code(() => tokenizerFromGguf({ ...bpeMetadata('gpt-2'), 'tokenizer.ggml.tokens': 'abc' }))).toBe('model_format');
    expect(code(() => loadTokenizer({ type: 'nope' } as never))).toBe('invalid_argument');
  });
});
