import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isWgllmError } from '../../src/core/errors.js';
import { openModelFiles } from '../../src/model/open.js';
import { openLocalModel } from '../../src/platform/node/model-location.js';

const MODELS = path.resolve(__dirname, '../../../shared/models');

describe('opening a model and its tokenizer from a path', () => {
  it.each([
    ['stories260K/stories260K.gguf', 'gguf', 'llama2c-or-gguf'],
    ['stories260K/stories260K.bin', 'llama2c', ''],
    ['stories260K-hf', 'safetensors', ''],
    ['tiny-qwen3/tiny-qwen3-Q8_0.gguf', 'gguf', ''],
    ['tiny-llama3', 'safetensors', ''],
  ])('%s', async (rel, format) => {
    const { model, tokenizer } = await openModelFiles(await openLocalModel(path.join(MODELS, rel)));
    try {
      expect(model.format).toBe(format);
      const ids = tokenizer.encode('Once upon a time', { addSpecialTokens: false });
      expect(ids.length).toBeGreaterThan(0);
      expect(tokenizer.decode(ids)).toBe('Once upon a time');
      expect(model.config.vocabSize).toBeGreaterThanOrEqual(tokenizer.vocabSize);
    } finally {
      await model.close();
    }
  });

  it('says what to give when the path does not exist', async () => {
    const err = await openLocalModel(path.join(MODELS, 'nope.gguf')).catch((e: unknown) => e);
    expect(isWgllmError(err, 'not_found')).toBe(true);
    expect(String(err)).toMatch(/\.gguf file.*folder with config\.json/s);
  });
});
