import type OpenAI from 'openai';
import { afterAll, describe, expect, it } from 'vitest';
import { createEngine } from '../../src/engine/create.js';
import { createNodePlatform } from '../../src/platform/node/index.js';
import { MemoryTuneStore } from '../../src/tune/store.js';
import { testGpu } from '../support/gpu.js';
import { modelPath, readJson } from '../support/models.js';
import { startServer } from './helpers.js';

/**
 * Chat through the model's own template over HTTP: tiny-smollm2 (the real SmolLM2 tokenizer and
 * ChatML template, random weights). The server's prompt must be exactly the tokens transformers
 * rendered, and greedy decoding must give transformers' continuation.
 */
interface ChatRef {
  name: string;
  messages: OpenAI.ChatCompletionMessageParam[];
  hf: { n_tokens: number; greedy: { text: string; ids: number[] } };
}
const ref = readJson<{ prompts: (ChatRef & { kind: string })[] }>('tiny-smollm2/reference.json').prompts.filter((p) => p.kind === 'chat');

const engine = await createEngine({
  model: modelPath('tiny-smollm2'),
  platform: { ...createNodePlatform(), tuneStore: new MemoryTuneStore() },
  gpu: await testGpu(),
  act: 'f32',
  maxModelLen: 128,
  maxNumSeqs: 2,
  maxNumBatchedTokens: 128,
});
const { server, client } = await startServer({ engine });
afterAll(async () => {
  await server.close({ timeoutMs: 1000 });
  await engine.dispose();
});

// Each step costs about a second here (a 49152-token vocabulary on SwiftShader): few tokens.
const N = 4;

describe('chat template over HTTP (tiny-smollm2)', () => {
  it('has two chat references (default system prompt, multi-turn)', () => {
    expect(ref.map((r) => r.name)).toEqual(['chat_default_system', 'chat_multi_turn']);
  });

  for (const r of ref) {
    it(`${r.name}: prompt tokens and greedy continuation equal transformers'`, async () => {
      const body = { model: 'tiny-smollm2', messages: r.messages, max_tokens: N, temperature: 0, ignore_eos: true } as OpenAI.ChatCompletionCreateParamsNonStreaming;
      const res = await client.chat.completions.create(body);
      expect(res.usage).toMatchObject({ prompt_tokens: r.hf.n_tokens, completion_tokens: N });
      const expected = engine.tokenizer.decode(r.hf.greedy.ids.slice(0, N), { skipSpecialTokens: true });
      expect(res.choices[0]!.message.content).toBe(expected);

      if (r.name !== 'chat_default_system') return;
      const stream = await client.chat.completions.create({ ...body, stream: true });
      let text = '';
      for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
      expect(text).toBe(expected);
    });
  }
});
