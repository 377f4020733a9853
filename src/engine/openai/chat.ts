import { renderChat } from '../../tokenizer/index.js';
import type { Engine } from '../engine.js';
import type { GenerateOptions, TokenLogprob, Usage } from '../types.js';
import { toGenerateParams } from './convert.js';
import { RequestError } from './errors.js';
import type { ChatCompletionRequest, ChatMessage } from './schemas.js';
import { parseChatRequest } from './validate.js';

/** OpenAI chat.completion objects, as the official clients read them. */
export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  choices: {
    index: number;
    message: { role: 'assistant'; content: string };
    finish_reason: 'stop' | 'length' | 'abort';
    logprobs: { content: ChatTokenLogprob[] } | null;
  }[];
  usage: OpenAIUsage;
}

export interface ChatCompletionChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  choices: {
    index: number;
    delta: { role?: 'assistant'; content?: string };
    finish_reason: 'stop' | 'length' | 'abort' | null;
    logprobs: { content: ChatTokenLogprob[] } | null;
  }[];
  usage?: OpenAIUsage | null;
}

export interface OpenAIUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details?: { cached_tokens: number };
}

export interface ChatTokenLogprob {
  token: string;
  logprob: number;
  bytes: number[];
  top_logprobs: { token: string; logprob: number; bytes: number[] }[];
}

export function openaiUsage(u: Usage): OpenAIUsage {
  return {
    prompt_tokens: u.promptTokens,
    completion_tokens: u.completionTokens,
    total_tokens: u.promptTokens + u.completionTokens,
    prompt_tokens_details: { cached_tokens: u.cachedTokens },
  };
}

export function chatLogprobs(engine: Engine, lps: TokenLogprob[] | undefined): ChatTokenLogprob[] {
  const tok = engine.tokenizer;
  const entry = (id: number, logprob: number) => {
    const bytes = Array.from(tok.tokenBytes(id));
    return { token: tok.decode([id]), logprob, bytes };
  };
  return (lps ?? []).map((lp) => ({ ...entry(lp.token, lp.logprob), top_logprobs: lp.top.map((t) => entry(t.token, t.logprob)) }));
}

function messageText(m: ChatMessage): string {
  if (m.content === null) return '';
  return typeof m.content === 'string' ? m.content : m.content.map((p) => p.text).join('');
}

let counter = 0;

/** chat.completions.create: validates, renders the model's chat template, generates. */
export async function createChatCompletion(
  engine: Engine,
  modelName: string,
  body: ChatCompletionRequest,
  opts: GenerateOptions = {},
): Promise<ChatCompletion | AsyncIterable<ChatCompletionChunk>> {
  const req = parseChatRequest(body);
  if (req.model !== undefined && req.model !== modelName) {
    throw new RequestError(`The model '${req.model}' does not exist; this server serves '${modelName}'.`, 404, 'model', 'model_not_found');
  }
  const wantLogprobs = req.logprobs ? (req.top_logprobs ?? 0) : undefined;
  const params = toGenerateParams(req, wantLogprobs);
  const messages = req.messages.map((m) => ({ role: m.role, content: messageText(m) }));
  let prompt: string;
  try {
    prompt = renderChat(engine.tokenizer, messages, { addGenerationPrompt: req.add_generation_prompt ?? true });
  } catch (e) {
    throw new RequestError((e as Error).message, 400, 'messages');
  }
  // The template already holds the special tokens (BOS etc.): tokenize without adding more.
  const ids = engine.tokenizer.encode(prompt, { addSpecialTokens: false });
  const events = engine.generate(ids, params, opts);
  const id = `chatcmpl-${Date.now().toString(36)}${(++counter).toString(36)}`;
  const created = Math.floor(Date.now() / 1000);
  if (req.stream) return streamChat(engine, events, id, created, modelName, Boolean(req.stream_options?.include_usage), wantLogprobs !== undefined);
  let content = '';
  const lps: TokenLogprob[] = [];
  for await (const e of events) {
    content += e.text;
    if (e.type === 'tokens' && e.logprobs) lps.push(...e.logprobs);
    if (e.type === 'finish') {
      return {
        id,
        object: 'chat.completion',
        created,
        model: modelName,
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content },
            finish_reason: e.finishReason,
            logprobs: wantLogprobs !== undefined ? { content: chatLogprobs(engine, lps) } : null,
          },
        ],
        usage: openaiUsage(e.usage),
      };
    }
  }
  throw new RequestError('the request ended without a result', 503);
}

async function* streamChat(
  engine: Engine,
  events: AsyncIterable<import('../types.js').GenerationEvent>,
  id: string,
  created: number,
  model: string,
  includeUsage: boolean,
  logprobs: boolean,
): AsyncIterable<ChatCompletionChunk> {
  const chunk = (delta: ChatCompletionChunk['choices'][0]['delta'], finish: ChatCompletionChunk['choices'][0]['finish_reason'], lp: TokenLogprob[] | undefined) => ({
    id,
    object: 'chat.completion.chunk' as const,
    created,
    model,
    choices: [{ index: 0, delta, finish_reason: finish, logprobs: logprobs ? { content: chatLogprobs(engine, lp) } : null }],
    ...(includeUsage ? { usage: null } : {}),
  });
  yield chunk({ role: 'assistant', content: '' }, null, undefined);
  for await (const e of events) {
    if (e.type === 'tokens') {
      if (e.text || e.logprobs) yield chunk({ content: e.text }, null, e.logprobs);
    } else {
      yield chunk(e.text ? { content: e.text } : {}, e.finishReason, undefined);
      if (includeUsage) yield { id, object: 'chat.completion.chunk', created, model, choices: [], usage: openaiUsage(e.usage) };
    }
  }
}
