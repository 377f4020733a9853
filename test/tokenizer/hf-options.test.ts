import { describe, expect, it } from 'vitest';
import { isWgllmError } from '../../src/core/errors.js';
import { compileHfDecoder } from '../../src/tokenizer/hf-decoder.js';
import { tokenizerFromHf } from '../../src/tokenizer/index.js';
import { readJson } from './fixtures.js';

/** Variations of real tokenizer.json files, for config paths the reference models do not take. */

const stories = () => readJson('stories260K-hf/tokenizer.json');
const storiesConfig = () => readJson('stories260K-hf/tokenizer_config.json');
const dec = new TextDecoder();

function code(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return isWgllmError(e) ? e.code : `not a WgllmError: ${String(e)}`;
  }
  return 'no error';
}

describe('tokenizer_config.json options', () => {
  it('add_bos_token adds BOS when tokenizer.json has no post-processor, and never twice', () => {
    const json = { ...stories(), post_processor: null };
    const withBos = tokenizerFromHf(json, storiesConfig());
    expect(withBos.encode('Once upon a time')).toEqual([1, 403, 407, 261, 378]);
    const withoutFlag = tokenizerFromHf(json, { ...storiesConfig(), add_bos_token: false });
    expect(withoutFlag.encode('Once upon a time')).toEqual([403, 407, 261, 378]);
    // post-processor and flag together: one BOS
    expect(tokenizerFromHf(stories(), storiesConfig()).encode('Once')).toEqual([1, 403]);
    const eos = tokenizerFromHf(json, { ...storiesConfig(), add_eos_token: true });
    expect(eos.encode('Once')).toEqual([1, 403, 2]);
    expect(eos.encode('Once', { addSpecialTokens: false })).toEqual([403]);
  });

  it('reads special tokens given as AddedToken objects and a list of named chat templates', () => {
    const tok = tokenizerFromHf(stories(), {
      bos_token: { content: '<s>', lstrip: false },
      eos_token: '</s>',
      chat_template: [
        { name: 'tool_use', template: 'tools' },
        { name: 'default', template: 'chat' },
      ],
    });
    expect([tok.bosTokenId, tok.eosTokenId]).toEqual([1, 2]);
    expect(tok.chatTemplate).toBe('chat');
    expect(tokenizerFromHf(stories()).chatTemplate).toBeUndefined();
  });

  it('rejects what it cannot load with a WgllmError', () => {
    expect(code(() => tokenizerFromHf({ version: '1.0' }))).toBe('model_format');
    expect(code(() => tokenizerFromHf({ ...stories(), decoder: { type: 'WordPiece' } }))).toBe('model_unsupported');
    expect(code(() => tokenizerFromHf({ ...stories(), decoder: null }))).toBe('model_unsupported');
    expect(code(() => tokenizerFromHf(null as never))).toBe('invalid_argument');
  });
});

describe('HF decoders as per-token byte rules', () => {
  const bytes = (d: ReturnType<typeof compileHfDecoder>, t: string) => dec.decode(d.pieceBytes(t));

  it('Llama 2 / Mistral sequence: Replace ▁, ByteFallback, Fuse, Strip', () => {
    const d = compileHfDecoder(stories().decoder);
    expect(d.leadingSpacesToStrip).toBe(1);
    expect(bytes(d, '▁Once')).toBe(' Once');
    expect([...d.pieceBytes('<0xE4>')]).toEqual([0xe4]);
  });

  it('Gemma-style sequence without Strip keeps the leading space', () => {
    const d = compileHfDecoder({
      type: 'Sequence',
      decoders: [{ type: 'Replace', pattern: { String: '▁' }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' }],
    });
    expect(d.leadingSpacesToStrip).toBe(0);
  });

  it('Metaspace strips the prefix space unless prepend_scheme is never', () => {
    expect(compileHfDecoder({ type: 'Metaspace', replacement: '▁', prepend_scheme: 'always' }).leadingSpacesToStrip).toBe(1);
    expect(compileHfDecoder({ type: 'Metaspace', replacement: '▁', prepend_scheme: 'never' }).leadingSpacesToStrip).toBe(0);
    expect(compileHfDecoder({ type: 'Metaspace', add_prefix_space: false }).leadingSpacesToStrip).toBe(0);
    expect(bytes(compileHfDecoder({ type: 'Metaspace' }), '▁a▁b')).toBe(' a b');
  });

  it('ByteLevel maps the GPT-2 alphabet back to bytes, and takes foreign characters as text', () => {
    const d = compileHfDecoder({ type: 'ByteLevel' });
    expect(bytes(d, 'ĠcafÃ©')).toBe(' café');
    expect([...d.pieceBytes('ĠðŁĺ')]).toEqual([0x20, 0xf0, 0x9f, 0x98]);
    expect(bytes(d, '▁x')).toBe('▁x');
  });

  it('SentencePiece tokenizer with a Metaspace decoder decodes like the Strip one', () => {
    const tok = tokenizerFromHf({ ...stories(), decoder: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first' } });
    const ref = tokenizerFromHf(stories());
    const ids = ref.encode('Once upon a time, there was a girl.', { addSpecialTokens: false });
    expect(tok.decode(ids)).toBe(ref.decode(ids));
    expect(tok.decode(ids)).toBe('Once upon a time, there was a girl.');
  });

  it('rejects decoders that cannot be applied token by token', () => {
    expect(code(() => compileHfDecoder({ type: 'Strip', content: ' ', start: 0, stop: 1 }))).toBe('model_unsupported');
    expect(code(() => compileHfDecoder({ type: 'Replace', pattern: { Regex: '\\s' }, content: '' }))).toBe('model_unsupported');
    expect(code(() => compileHfDecoder({ type: 'CTC' }))).toBe('model_unsupported');
  });
});
