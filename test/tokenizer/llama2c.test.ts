import { beforeAll, describe, expect, it } from 'vitest';
import { isWgllmError } from '../../src/core/errors.js';
import { loadTokenizer, tokenizerFromLlama2c, type Tokenizer } from '../../src/tokenizer/index.js';
import { ggufMetadata, mixedStrings, readBytes, readJson } from './fixtures.js';

describe('llama2.c tokenizer.bin (stories260K tok512.bin)', () => {
  const bytes = readBytes('stories260K/tok512.bin');
  const tok = loadTokenizer({ type: 'llama2c', data: bytes, vocabSize: 512 });
  const ref = readJson('stories260K/reference-outputs.json');
  const lc = readJson('stories260K/reference-llamacpp.json');
  let gguf: Tokenizer;
  let metadata: Record<string, unknown>;
  beforeAll(async () => {
    metadata = await ggufMetadata('stories260K/stories260K.gguf');
    gguf = loadTokenizer({ type: 'gguf', metadata });
  });

  it('reads 512 tokens; BOS 1, EOS 2 as llama2.c hard-codes', () => {
    expect(tok.kind).toBe('llama2c');
    expect(tok.vocabSize).toBe(512);
    expect([tok.bosTokenId, tok.eosTokenId, tok.specialTokenIds.unk]).toEqual([1, 2, 0]);
    expect(tok.specialTokens.map((t) => t.content)).toEqual(['<unk>', '<s>', '</s>']);
    expect(tok.chatTemplate).toBeUndefined();
    // Reading without vocabSize takes every entry of the file.
    const copy = new ArrayBuffer(bytes.byteLength);
    new Uint8Array(copy).set(bytes);
    expect(tokenizerFromLlama2c(copy).vocabSize).toBe(512);
  });

  it('has the same token strings as the GGUF vocabulary (scores show in the merges below)', () => {
    const tokens = metadata['tokenizer.ggml.tokens'] as string[];
    for (let id = 0; id < 512; id++) expect(tok.idToToken(id), `id ${id}`).toBe(tokens[id]);
  });

  it('encodes every reference prompt to the recorded ids', () => {
    expect(tok.encode(ref.prompt.text)).toEqual(ref.prompt.input_ids);
    expect(tok.encode(lc.once_upon_a_time.text)).toEqual(lc.once_upon_a_time.input_ids);
    expect(tok.encode(lc.bos_only.text)).toEqual(lc.bos_only.input_ids);
    expect(tok.encode('Once upon a time', { addSpecialTokens: false })).toEqual([403, 407, 261, 378]);
  });

  it('decodes the greedy continuations to the recorded text', () => {
    expect(tok.decode(ref.greedy_from_bos.output_ids, { skipSpecialTokens: true })).toBe(ref.greedy_from_bos.text);
    expect(tok.decode(ref.prompt.greedy_32.output_ids, { skipSpecialTokens: true })).toBe(ref.prompt.greedy_32.text);
  });

  it('encodes and decodes 1000 mixed strings exactly as the GGUF tokenizer does', () => {
    for (const s of mixedStrings(1000, 5)) {
      const ids = tok.encode(s);
      expect(ids, JSON.stringify(s)).toEqual(gguf.encode(s));
      expect(tok.decode(ids)).toBe(gguf.decode(ids));
      if (!s.includes('\u2581')) expect(tok.decode(ids, { skipSpecialTokens: true })).toBe(s);
    }
  });

  it('does not parse special-token text in the input (llama2.c never does)', () => {
    const ids = tok.encode('a</s>', { addSpecialTokens: false });
    expect(ids).not.toContain(2);
    expect(tok.decode(ids)).toBe('a</s>');
  });

  it('rejects corrupt data with a model_format error', () => {
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return isWgllmError(e) ? e.code : String(e);
      }
      return 'no error';
    };
    expect(code(() => tokenizerFromLlama2c(bytes.subarray(0, 1001)))).toBe('model_format');
    expect(code(() => tokenizerFromLlama2c(new Uint8Array(2)))).toBe('model_format');
    expect(code(() => tokenizerFromLlama2c(bytes, { vocabSize: 600 }))).toBe('model_format');
  });
});
