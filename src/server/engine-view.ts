import type { WgllmEngine } from '../engine/create.js';
import type { Engine } from '../engine/engine.js';
import { createChatCompletion, type ChatCompletion, type ChatCompletionChunk } from '../engine/openai/chat.js';
import { createCompletion, type Completion } from '../engine/openai/completions.js';
import type { ChatCompletionRequest, CompletionRequest } from '../engine/openai/schemas.js';
import type { GenerateOptions, GenerationEvent } from '../engine/types.js';

/** Called with every event of every request the view starts (metrics). */
export type EventTap = () => (event: GenerationEvent) => void;

export interface EngineViewOptions {
  /** a Jinja chat template used instead of the model's (vLLM's --chat-template) */
  chatTemplate?: string;
  /** the name requests must use (default: the engine's) */
  modelName?: string;
  tap?: EventTap;
}

/** The OpenAI entry points of one engine as a server (or the CLI) uses them. */
export interface EngineView {
  readonly engine: WgllmEngine;
  readonly modelName: string;
  chat(body: ChatCompletionRequest, opts: GenerateOptions): Promise<ChatCompletion | AsyncIterable<ChatCompletionChunk>>;
  completion(body: CompletionRequest, opts: GenerateOptions): Promise<Completion | AsyncIterable<Completion>>;
}

/**
 * The engine's own OpenAI adapters, run over a view of the engine that differs in two ways:
 * another chat template, and a tap on each request's events. The view delegates everything
 * else to the engine through its prototype, so the scheduler, KV pool and step loop are the
 * engine's own and nothing on the engine is mutated (other users of it see no change).
 */
export function engineView(engine: WgllmEngine, opts: EngineViewOptions = {}): EngineView {
  const view = Object.create(engine) as Engine;
  const tap = opts.tap;
  if (tap) {
    Object.defineProperty(view, 'generate', {
      value: (prompt: string | readonly number[], params: Parameters<Engine['generate']>[1], o: GenerateOptions) =>
        tapEvents(engine.generate(prompt, params, o), tap()),
    });
  }
  if (opts.chatTemplate !== undefined) {
    const tokenizer = Object.create(engine.tokenizer) as Engine['tokenizer'];
    Object.defineProperty(tokenizer, 'chatTemplate', { value: opts.chatTemplate });
    Object.defineProperty(view, 'tokenizer', { value: tokenizer });
  }
  const name = opts.modelName ?? engine.modelName;
  return {
    engine,
    modelName: name,
    chat: (body, o) => createChatCompletion(view, name, body, o),
    completion: (body, o) => createCompletion(view, name, body, o),
  };
}

/**
 * Calls `onEvent` for each event as the consumer reads it. `return` goes straight to the inner
 * iterator even while a `next` is pending, so a consumer that stops still cancels the request.
 */
function tapEvents(events: AsyncIterable<GenerationEvent>, onEvent: (e: GenerationEvent) => void): AsyncIterable<GenerationEvent> {
  return {
    [Symbol.asyncIterator]() {
      const it = events[Symbol.asyncIterator]();
      return {
        next: async () => {
          const r = await it.next();
          if (!r.done) {
            try {
              onEvent(r.value);
            } catch {
              // metrics must never break a request
            }
          }
          return r;
        },
        return: async () => (it.return ? it.return() : { done: true as const, value: undefined }),
      };
    },
  };
}
