import { describe, expect, it } from 'vitest';
import { bytesToByteLevel } from '../../src/tokenizer/byte-level.js';
import {
  IncrementalDetokenizer,
  applyChatTemplate,
  loadTokenizer,
  tokenizerFromHf,
} from '../../src/tokenizer/index.js';

// The tokenizer layer in Chromium: all three sources and the detokenizer run on web standards
// only. Model files live outside the Vite root, so this uses small synthetic vocabularies; the
// Node suites check the real models.

const enc = new TextEncoder();

/** llama2.c tokenizer.bin bytes for a vocabulary of [piece, score] (pieces with plain spaces). */
function tokenizerBin(entries: [string, number][]): Uint8Array {
  const parts: number[] = [];
  const i32 = (v: number) => parts.push(...new Uint8Array(Int32Array.of(v).buffer));
  const f32 = (v: number) => parts.push(...new Uint8Array(Float32Array.of(v).buffer));
  i32(16);
  for (const [piece, score] of entries) {
    const b = enc.encode(piece);
    f32(score);
    i32(b.length);
    parts.push(...b);
  }
  return Uint8Array.from(parts);
}

describe('tokenizer in the browser', () => {
  it('runs in a browser runtime', () => {
    expect(typeof window).toBe('object');
  });

  it('llama2.c tokenizer.bin: SPM merges, byte fallback, streaming', () => {
    const entries: [string, number][] = [['<unk>', 0], ['\n<s>\n', 0], ['\n</s>\n', 0]];
    for (let b = 0; b < 256; b++) entries.push([`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`, 0]);
    entries.push([' ', -1], ['h', -2], ['i', -3], [' h', -4], [' hi', -5]);
    const tok = loadTokenizer({ type: 'llama2c', data: tokenizerBin(entries) });
    const ids = tok.encode('hi 😀');
    expect(ids.slice(0, 2)).toEqual([1, 263]); // BOS, '▁hi'
    const d = new IncrementalDetokenizer(tok, { skipSpecialTokens: true });
    const pieces = ids.map((id) => d.push(id));
    expect(pieces.join('') + d.flush()).toBe('hi 😀');
    expect(pieces.slice(-4)).toEqual(['', '', '', '😀']);
  });

  it('GGUF byte-level BPE through @huggingface/tokenizers', () => {
    const tokens = ['<|s|>'];
    for (let b = 0; b < 256; b++) tokens.push(bytesToByteLevel(Uint8Array.of(b)));
    tokens.push('Ġw', 'Ġwo');
    const tok = loadTokenizer({
      type: 'gguf',
      metadata: {
        'tokenizer.ggml.model': 'gpt2',
        'tokenizer.ggml.pre': 'qwen2',
        'tokenizer.ggml.tokens': tokens,
        'tokenizer.ggml.token_type': tokens.map((_, i) => (i === 0 ? 3 : 1)),
        'tokenizer.ggml.merges': ['Ġ w', 'Ġw o'],
      },
    });
    const ids = tok.encode('<|s|> wo 你');
    expect(ids.map((id) => tok.idToToken(id)).slice(0, 2)).toEqual(['<|s|>', 'Ġwo']);
    expect(tok.decode(ids, { skipSpecialTokens: true })).toBe(' wo 你');
  });

  it('HF tokenizer.json and a chat template', () => {
    const vocab: Record<string, number> = { '<s>': 0, '▁': 1, a: 2, '▁a': 3 };
    const tok = tokenizerFromHf({
      model: { type: 'BPE', vocab, merges: [['▁', 'a']], byte_fallback: false },
      added_tokens: [{ id: 0, content: '<s>', special: true, normalized: false }],
      normalizer: { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '▁' }, { type: 'Replace', pattern: { String: ' ' }, content: '▁' }] },
      pre_tokenizer: null,
      post_processor: null,
      decoder: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always' },
    });
    expect(tok.encode('a a')).toEqual([3, 3]);
    expect(tok.decode([3, 3])).toBe('a a');
    const out = applyChatTemplate('{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}', [
      { role: 'user', content: 'hi' },
    ]);
    expect(out).toBe('[user]hi');
  });
});
