import { beforeAll, describe, expect, it } from 'vitest';
import { loadTokenizer, tokenizerFromHf, type Tokenizer } from '../../src/tokenizer/index.js';
import {
  TINY_MODELS,
  ggufMetadata,
  mixedStrings,
  promptText,
  readJson,
  tinyReference,
  type TokenizerTestVectors,
} from './fixtures.js';

// Every GGUF file of every tiny model, as listed by its reference.json (12 files).
const GGUF_FILES = TINY_MODELS.flatMap((model) =>
  Object.keys(tinyReference(model).gguf_files).map((file) => ({ model, file })),
);

describe('GGUF byte-level BPE (tokenizer.ggml.model = gpt2, pre = smollm)', () => {
  it('covers all 12 GGUF files of the tiny models', () => {
    expect(GGUF_FILES).toHaveLength(12);
  });

  for (const { model, file } of GGUF_FILES) {
    describe(file, () => {
      let tok: Tokenizer;
      const ref = tinyReference(model);
      beforeAll(async () => {
        tok = loadTokenizer({ type: 'gguf', metadata: await ggufMetadata(`${model}/${file}`) });
      });

      it('reads vocabulary and special tokens from the metadata', () => {
        expect(tok.kind).toBe('gguf-bpe');
        expect(tok.vocabSize).toBe(49152);
        expect([tok.bosTokenId, tok.eosTokenId, tok.specialTokenIds.unk]).toEqual([1, 2, 0]);
        expect(tok.specialTokens.map((t) => t.content).slice(0, 3)).toEqual(['<|endoftext|>', '<|im_start|>', '<|im_end|>']);
        expect(tok.chatTemplate).toBe(readJson(`${model}/tokenizer_config.json`).chat_template);
      });

      it(`encodes all ${ref.prompts.length} prompts to llama.cpp's ids (= HF ids), no BOS`, () => {
        for (const p of ref.prompts) {
          const lc = p.llama_cpp[file];
          expect(lc, `${p.name}: no llama_cpp entry for ${file}`).toBeDefined();
          const ids = tok.encode(promptText(p));
          expect(ids, p.name).toEqual(lc!.ids);
          expect(ids, p.name).toEqual(p.hf.ids);
        }
      });

      it("decodes prompts, HF's and llama.cpp's greedy continuations to the recorded text", () => {
        for (const p of ref.prompts) {
          expect(tok.decode(p.hf.ids), p.name).toBe(promptText(p));
          expect(tok.decode(p.hf.greedy.ids), p.name).toBe(p.hf.greedy.text);
          const g = p.llama_cpp[file]!.greedy;
          expect(tok.decode(g.ids), p.name).toBe(g.text);
        }
      });
    });
  }

  describe('against the HF tokenizer.json of the same model', () => {
    let gguf: Tokenizer;
    const hf = tokenizerFromHf(readJson('tiny-smollm2/tokenizer.json'), readJson('tiny-smollm2/tokenizer_config.json'));
    beforeAll(async () => {
      gguf = loadTokenizer({ type: 'gguf', metadata: await ggufMetadata('tiny-smollm2/tiny-smollm2-Q4_0.gguf') });
    });

    it('matches the 7 SmolLM2 tokenizer test vectors', () => {
      const { vectors } = readJson<TokenizerTestVectors>('smollm2-135m-instruct-tokenizer/tokenizer-test-vectors.json');
      expect(vectors).toHaveLength(7);
      for (const v of vectors) {
        expect(gguf.encode(v.text), v.text).toEqual(v.ids);
        expect(v.ids.map((id) => gguf.idToToken(id))).toEqual(v.tokens);
        expect(gguf.decode(v.ids) === v.text).toBe(v.decode_roundtrip_equal);
      }
    });

    it('gives the same ids and text on 500 mixed strings', () => {
      for (const s of mixedStrings(500, 3)) {
        const ids = gguf.encode(s);
        expect(ids, JSON.stringify(s)).toEqual(hf.encode(s));
        expect(gguf.decode(ids)).toBe(s);
      }
    });

    it('has the same token strings for every id', () => {
      for (let id = 0; id < hf.vocabSize; id++) expect(gguf.idToToken(id)).toBe(hf.idToToken(id));
    });
  });
});

describe('GGUF SentencePiece (stories260K.gguf, tokenizer.ggml.model = llama)', () => {
  let tok: Tokenizer;
  const ref = readJson('stories260K/reference-outputs.json');
  const lc = readJson('stories260K/reference-llamacpp.json');
  const hf = tokenizerFromHf(readJson('stories260K-hf/tokenizer.json'), readJson('stories260K-hf/tokenizer_config.json'));
  beforeAll(async () => {
    tok = loadTokenizer({ type: 'gguf', metadata: await ggufMetadata('stories260K/stories260K.gguf') });
  });

  it('reads the 512-token vocabulary', () => {
    expect(tok.kind).toBe('gguf-spm');
    expect(tok.vocabSize).toBe(512);
    expect([tok.bosTokenId, tok.eosTokenId, tok.specialTokenIds.unk]).toEqual([1, 2, 0]);
    // padding/separator ids are 0xFFFFFFFF ("none") in this file
    expect(tok.specialTokenIds.pad).toBeUndefined();
    expect(tok.specialTokens.map((t) => t.content)).toEqual(['<unk>', '<s>', '</s>']);
    expect(tok.chatTemplate).toBeUndefined();
    expect(tok.idToToken(13)).toBe('<0x0A>');
  });

  it('encodes every reference prompt to the recorded ids (BOS added, as llama.cpp and HF do)', () => {
    expect(tok.encode(ref.prompt.text)).toEqual(ref.prompt.input_ids);
    expect(tok.encode(lc.once_upon_a_time.text)).toEqual(lc.once_upon_a_time.input_ids);
    expect(tok.encode(lc.bos_only.text)).toEqual(lc.bos_only.input_ids);
    expect(ref.prompt.input_ids).toEqual([1, 403, 407, 261, 378]);
  });

  it('decodes the greedy continuations to the recorded text', () => {
    expect(tok.decode(ref.greedy_from_bos.output_ids, { skipSpecialTokens: true })).toBe(ref.greedy_from_bos.text);
    expect(tok.decode(ref.prompt.greedy_32.output_ids, { skipSpecialTokens: true })).toBe(ref.prompt.greedy_32.text);
  });

  it('matches the HF tokenizer.json of the same model on 1000 mixed strings', () => {
    for (const s of mixedStrings(1000, 11)) {
      const ids = tok.encode(s);
      expect(ids, JSON.stringify(s)).toEqual(hf.encode(s));
      expect(tok.decode(ids)).toBe(hf.decode(ids));
      if (!s.includes('\u2581')) expect(tok.decode(ids, { skipSpecialTokens: true })).toBe(s);
    }
  });

  it('parses special tokens written in the text, with a space prefix after each', () => {
    const ids = tok.encode('hi</s>hi', { addSpecialTokens: false });
    expect(ids).toEqual(hf.encode('hi</s>hi', { addSpecialTokens: false }));
    expect(ids).toContain(2);
    const again = tok.encode('hi', { addSpecialTokens: false });
    expect(ids).toEqual([...again, 2, ...again]);
  });
});
