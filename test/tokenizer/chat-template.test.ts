import { beforeAll, describe, expect, it } from 'vitest';
import { isWgllmError } from '../../src/core/errors.js';
import {
  applyChatTemplate,
  loadTokenizer,
  renderChat,
  templateSpecialTokens,
  tokenizerFromHf,
  type Tokenizer,
} from '../../src/tokenizer/index.js';
import { TINY_MODELS, ggufMetadata, readJson, tinyReference } from './fixtures.js';

function errorCode(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return isWgllmError(e) ? e.code : `not a WgllmError: ${String(e)}`;
  }
  return 'no error';
}

describe('chat templates: recorded renderings of the tiny models', () => {
  for (const model of TINY_MODELS) {
    describe(model, () => {
      const config = readJson(`${model}/tokenizer_config.json`);
      const hf = tokenizerFromHf(readJson(`${model}/tokenizer.json`), config);
      const chats = tinyReference(model).prompts.filter((p) => p.messages !== undefined);
      const ggufFiles = Object.keys(tinyReference(model).gguf_files);
      const ggufs: Tokenizer[] = [];
      beforeAll(async () => {
        for (const f of ggufFiles) ggufs.push(loadTokenizer({ type: 'gguf', metadata: await ggufMetadata(`${model}/${f}`) }));
      });

      it(`renders both chat conversations byte-identically from tokenizer_config.json`, () => {
        expect(chats.map((c) => c.name)).toEqual(['chat_default_system', 'chat_multi_turn']);
        for (const c of chats) {
          const out = applyChatTemplate(config.chat_template, c.messages!, {
            addGenerationPrompt: c.add_generation_prompt!,
            specialTokens: { bos_token: config.bos_token, eos_token: config.eos_token },
          });
          expect(out, c.name).toBe(c.rendered);
          expect(renderChat(hf, c.messages!, { addGenerationPrompt: c.add_generation_prompt! }), c.name).toBe(c.rendered);
          // and the ids of the rendering are the recorded ones
          expect(hf.encode(out)).toEqual(c.hf.ids);
        }
      });

      it(`renders them identically from each GGUF's tokenizer.chat_template (${ggufFiles.length} files)`, () => {
        expect(ggufs).toHaveLength(ggufFiles.length);
        for (const tok of ggufs) {
          expect(templateSpecialTokens(tok)).toEqual(templateSpecialTokens(hf));
          for (const c of chats) {
            expect(renderChat(tok, c.messages!, { addGenerationPrompt: c.add_generation_prompt! }), c.name).toBe(c.rendered);
          }
        }
      });
    });
  }

  it('leaves the generation prompt out when asked', () => {
    const config = readJson('tiny-smollm2/tokenizer_config.json');
    const out = applyChatTemplate(config.chat_template, [{ role: 'user', content: 'Hi' }], { addGenerationPrompt: false });
    expect(out).toBe(
      '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n',
    );
  });
});

describe('chat templates: errors', () => {
  it('a model without a template gets a model_unsupported WgllmError that says what to do', async () => {
    const tok = loadTokenizer({ type: 'gguf', metadata: await ggufMetadata('stories260K/stories260K.gguf') });
    expect(tok.chatTemplate).toBeUndefined();
    expect(errorCode(() => renderChat(tok, [{ role: 'user', content: 'hi' }]))).toBe('model_unsupported');
    expect(() => applyChatTemplate(undefined, [])).toThrow(/no chat template.*plain completion prompt/);
    expect(errorCode(() => applyChatTemplate('   ', []))).toBe('model_unsupported');
  });

  it('raise_exception() in a template is an invalid_argument error carrying its message', () => {
    const t = "{% if messages[0]['role'] != 'user' %}{{ raise_exception('first message must be from the user') }}{% endif %}ok";
    expect(applyChatTemplate(t, [{ role: 'user', content: 'x' }])).toBe('ok');
    expect(errorCode(() => applyChatTemplate(t, [{ role: 'assistant', content: 'x' }]))).toBe('invalid_argument');
    expect(() => applyChatTemplate(t, [{ role: 'assistant', content: 'x' }])).toThrow(/first message must be from the user/);
  });

  it('a template that does not parse is a model_format error', () => {
    expect(errorCode(() => applyChatTemplate('{% for m in messages %}', []))).toBe('model_format');
  });

  it('passes extra variables through', () => {
    const t = '{% if enable_thinking %}think{% else %}no{% endif %}|{{ bos_token }}';
    expect(applyChatTemplate(t, [], { variables: { enable_thinking: true }, specialTokens: { bos_token: '<s>' } })).toBe('think|<s>');
  });
});
