import { beforeAll, describe, expect, it } from 'vitest';
import { isWgllmError } from '../../src/core/errors.js';
import { IncrementalDetokenizer, loadTokenizer, tokenizerFromHf, type Tokenizer } from '../../src/tokenizer/index.js';
import { TINY_MODELS, ggufMetadata, mixedStrings, promptText, readBytes, readJson, tinyReference } from './fixtures.js';

/** Streams `ids` in chunks of the given sizes (cycled); returns every piece and the flush. */
function stream(tok: Tokenizer, ids: readonly number[], chunkSizes: number[] = [1], opts = {}): string[] {
  const d = new IncrementalDetokenizer(tok, opts);
  const pieces: string[] = [];
  for (let i = 0, k = 0; i < ids.length; k++) {
    const n = chunkSizes[k % chunkSizes.length]!;
    pieces.push(d.push(ids.slice(i, i + n)));
    i += n;
  }
  pieces.push(d.flush());
  expect(d.text).toBe(pieces.join(''));
  return pieces;
}

/** A piece must be whole characters: no U+FFFD from a split sequence, no lone surrogate. */
function expectWholeCharacters(pieces: string[]): void {
  for (const p of pieces) {
    expect(p.includes('\ufffd'), JSON.stringify(p)).toBe(false);
    expect(/\p{Cs}/u.test(p), JSON.stringify(p)).toBe(false); // a lone surrogate is category Cs
  }
}

describe('IncrementalDetokenizer: byte-level BPE (tiny-* reference continuations)', () => {
  for (const model of TINY_MODELS) {
    it(`${model}: streamed text equals decode() for all prompts and greedy continuations`, () => {
      const tok = tokenizerFromHf(readJson(`${model}/tokenizer.json`), readJson(`${model}/tokenizer_config.json`));
      const ref = tinyReference(model);
      for (const p of ref.prompts) {
        for (const ids of [p.hf.ids, p.hf.greedy.ids, [...p.hf.ids, ...p.hf.greedy.ids]]) {
          for (const chunks of [[1], [2, 3], [7]]) {
            const pieces = stream(tok, ids, chunks);
            expect(pieces.join(''), p.name).toBe(tok.decode(ids));
            expectWholeCharacters(pieces);
          }
        }
        expect(stream(tok, p.hf.greedy.ids).join('')).toBe(p.hf.greedy.text);
        expect(stream(tok, p.hf.ids).join('')).toBe(promptText(p));
        // continuation after the prompt, with the prompt as context
        const after = stream(tok, p.hf.greedy.ids, [1], { prefixIds: p.hf.ids }).join('');
        expect(after).toBe(p.hf.greedy.text);
      }
    });
  }

  it('holds back the bytes of a character split across tokens (emoji, CJK)', () => {
    const tok = tokenizerFromHf(readJson('tiny-smollm2/tokenizer.json'));
    // 'ĠðŁĺ' + 'Ģ' = ' 😀' (F0 9F 98 80): the first token ends inside the emoji.
    const ids = tok.encode('naïve café — 你好 😀');
    expect(ids.map((id) => tok.idToToken(id))).toEqual(['na', 'Ã¯ve', 'ĠcafÃ©', 'ĠâĢĶ', 'Ġ', 'ä½', 'ł', 'å¥', '½', 'ĠðŁĺ', 'Ģ']);
    const d = new IncrementalDetokenizer(tok);
    const out = ids.map((id) => d.push(id));
    expect(out).toEqual(['na', 'ïve', ' café', ' —', ' ', '', '你', '', '好', ' ', '😀']);
    expect(d.flush()).toBe('');
  });

  it('streams the unicode reference prompt (emoji ZWJ sequence, CJK, Hangul) character-safely', () => {
    const tok = tokenizerFromHf(readJson('tiny-qwen2/tokenizer.json'));
    const p = tinyReference('tiny-qwen2').prompts.find((x) => x.name === 'unicode')!;
    const pieces = stream(tok, p.hf.ids);
    expect(pieces.join('')).toBe(p.text);
    expectWholeCharacters(pieces);
    // Several tokens end mid-character here; those pushes return ''.
    expect(pieces.filter((x) => x === '').length).toBeGreaterThan(5);
  });

  it('round-trips 300 mixed strings through streaming', () => {
    const tok = tokenizerFromHf(readJson('tiny-smollm2/tokenizer.json'));
    for (const s of mixedStrings(300, 21)) {
      const pieces = stream(tok, tok.encode(s), [1, 2]);
      expect(pieces.join('')).toBe(s);
      expectWholeCharacters(pieces);
    }
  });
});

describe('IncrementalDetokenizer: SentencePiece (stories260K: GGUF, tokenizer.bin, tokenizer.json)', () => {
  const ref = readJson('stories260K/reference-outputs.json');
  const lc = readJson('stories260K/reference-llamacpp.json');
  const tokenizers: [string, () => Promise<Tokenizer>][] = [
    ['gguf', async () => loadTokenizer({ type: 'gguf', metadata: await ggufMetadata('stories260K/stories260K.gguf') })],
    ['tokenizer.bin', async () => loadTokenizer({ type: 'llama2c', data: readBytes('stories260K/tok512.bin') })],
    ['tokenizer.json', async () => tokenizerFromHf(readJson('stories260K-hf/tokenizer.json'), readJson('stories260K-hf/tokenizer_config.json'))],
  ];
  for (const [name, load] of tokenizers) {
    describe(name, () => {
      let tok: Tokenizer;
      beforeAll(async () => {
        tok = await load();
      });

      it('streams the greedy outputs to the recorded text', () => {
        const all = ref.greedy_from_bos.output_ids as number[];
        for (const chunks of [[1], [3], [5, 1]]) {
          const pieces = stream(tok, all, chunks, { skipSpecialTokens: true });
          expect(pieces.join('')).toBe(ref.greedy_from_bos.text);
          expect(pieces.join('')).toBe(tok.decode(all, { skipSpecialTokens: true }));
        }
        expect(stream(tok, ref.prompt.greedy_32.output_ids, [1], { skipSpecialTokens: true }).join('')).toBe(
          ref.prompt.greedy_32.text,
        );
      });

      it("keeps the leading space of a continuation, giving llama.cpp's detokenized text", () => {
        // llama.cpp streams generated tokens after the prompt; '▁Once' after <s> is " Once".
        const fromBos = stream(tok, lc.bos_only.greedy_64.ids, [1], { prefixIds: lc.bos_only.input_ids });
        expect(fromBos.join('')).toBe(lc.bos_only.greedy_64.text);
        const after = stream(tok, lc.once_upon_a_time.greedy_64.ids, [1], { prefixIds: lc.once_upon_a_time.input_ids });
        expect(after.join('')).toBe(lc.once_upon_a_time.greedy_64.text);
        // same as decoding everything and cutting off the prompt's text
        const full = tok.decode([...lc.once_upon_a_time.input_ids, ...lc.once_upon_a_time.greedy_64.ids]);
        expect(full.slice(tok.decode(lc.once_upon_a_time.input_ids).length)).toBe(after.join(''));
      });

      it('holds back byte-fallback bytes until the character is complete', () => {
        const s = '世界 😀 ok';
        const ids = tok.encode(s, { addSpecialTokens: false });
        expect(ids.filter((id) => /^<0x/.test(tok.idToToken(id)!)).length).toBe(3 + 3 + 4);
        const pieces = stream(tok, ids);
        expect(pieces.join('')).toBe(s);
        expectWholeCharacters(pieces);
        expect(pieces.slice(0, 4)).toEqual(['', '', '', '世']); // '▁' is held too: it is the stripped prefix
      });
    });
  }
});

describe('IncrementalDetokenizer: edge cases', () => {
  const tok = loadTokenizer({ type: 'llama2c', data: readBytes('stories260K/tok512.bin') });
  const byte = (b: number) => tok.tokenToId(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`)!;

  it('flushes an unfinished character as U+FFFD, like decode()', () => {
    const ids = [byte(0x41), byte(0xe4), byte(0xbd)]; // 'A' + 2 of the 3 bytes of '你'
    const d = new IncrementalDetokenizer(tok);
    expect(d.push(ids)).toBe('A');
    expect(d.flush()).toBe('\ufffd');
    expect(tok.decode(ids)).toBe('A\ufffd');
  });

  it('emits invalid bytes as U+FFFD at once, without waiting', () => {
    const d = new IncrementalDetokenizer(tok);
    expect(d.push([byte(0xff), byte(0x41)])).toBe('\ufffdA');
  });

  it('keeps a U+FEFF produced by tokens (no BOM sniffing)', () => {
    const ids = [byte(0xef), byte(0xbb), byte(0xbf), byte(0x41)];
    expect(tok.decode(ids)).toBe('\ufeffA');
    expect(stream(tok, ids).join('')).toBe('\ufeffA');
  });

  it('accepts typed arrays (GPU read-backs) for decode, push and prefixIds', () => {
    const ids = Uint32Array.of(byte(0xe4), byte(0xbd), byte(0xa0));
    expect(tok.decode(ids)).toBe('你');
    const d = new IncrementalDetokenizer(tok, { prefixIds: Int32Array.of(1, byte(0xe4)) });
    expect(d.push(Uint32Array.of(byte(0xbd), byte(0xa0)))).toBe('你');
  });

  it('rejects a non-string prompt with WgllmError', () => {
    expect(() => tok.encode(42 as never)).toThrow(/takes a string/);
  });

  it('refuses pushes after flush and out-of-range ids, with WgllmError', () => {
    const d = new IncrementalDetokenizer(tok);
    d.flush();
    expect(() => d.push(5)).toThrow(/after flush/);
    expect(d.flush()).toBe('');
    const e = (() => {
      try {
        new IncrementalDetokenizer(tok).push([1, 99999]);
      } catch (err) {
        return err;
      }
    })();
    expect(isWgllmError(e, 'invalid_argument')).toBe(true);
    expect(() => tok.decode([-1])).toThrow(/not in this 512-token vocabulary/);
    expect(() => tok.decode([1.5])).toThrow(/not in this/);
  });
});
