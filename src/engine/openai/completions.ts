import type { Engine } from '../engine.js';
import type { GenerateOptions, GenerationEvent, TokenLogprob } from '../types.js';
import { openaiUsage, type OpenAIUsage } from './chat.js';
import { toGenerateParams } from './convert.js';
import { RequestError } from './errors.js';
import type { CompletionRequest } from './schemas.js';
import { parseCompletionRequest } from './validate.js';

export interface CompletionLogprobs {
  tokens: string[];
  token_logprobs: number[];
  top_logprobs: Record<string, number>[];
  text_offset: number[];
}

export interface Completion {
  id: string;
  object: 'text_completion';
  created: number;
  model: string;
  choices: { index: number; text: string; finish_reason: 'stop' | 'length' | 'abort' | null; logprobs: CompletionLogprobs | null }[];
  usage?: OpenAIUsage | null;
}

function legacyLogprobs(engine: Engine, lps: TokenLogprob[], offset0: number): CompletionLogprobs {
  const tok = engine.tokenizer;
  let offset = offset0;
  const out: CompletionLogprobs = { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [] };
  for (const lp of lps) {
    const t = tok.decode([lp.token]);
    out.tokens.push(t);
    out.token_logprobs.push(lp.logprob);
    out.top_logprobs.push(Object.fromEntries(lp.top.map((x) => [tok.decode([x.token]), x.logprob])));
    out.text_offset.push(offset);
    offset += t.length;
  }
  return out;
}

let counter = 0;

/** completions.create: a raw prompt (text or token ids), no chat template. */
export async function createCompletion(
  engine: Engine,
  modelName: string,
  body: CompletionRequest,
  opts: GenerateOptions = {},
): Promise<Completion | AsyncIterable<Completion>> {
  const req = parseCompletionRequest(body);
  if (req.model !== undefined && req.model !== modelName) {
    throw new RequestError(`The model '${req.model}' does not exist; this server serves '${modelName}'.`, 404, 'model', 'model_not_found');
  }
  const p = req.prompt;
  const prompt: string | number[] = typeof p === 'string' ? p : typeof p[0] === 'string' ? (p[0] as string) : Array.isArray(p[0]) ? (p[0] as number[]) : (p as number[]);
  const ids = typeof prompt === 'string' ? engine.tokenizer.encode(prompt) : prompt;
  const wantLogprobs = req.logprobs ?? undefined;
  const events = engine.generate(ids, toGenerateParams(req, wantLogprobs), opts);
  const echo = req.echo ? (typeof prompt === 'string' ? prompt : engine.tokenizer.decode(prompt)) : '';
  const id = `cmpl-${Date.now().toString(36)}${(++counter).toString(36)}`;
  const created = Math.floor(Date.now() / 1000);
  const base = { id, object: 'text_completion' as const, created, model: modelName };
  if (req.stream) return streamCompletion(engine, events, base, echo, Boolean(req.stream_options?.include_usage), wantLogprobs !== undefined);
  let text = echo;
  const lps: TokenLogprob[] = [];
  for await (const e of events) {
    text += e.text;
    if (e.type === 'tokens' && e.logprobs) lps.push(...e.logprobs);
    if (e.type === 'finish') {
      return {
        ...base,
        choices: [{ index: 0, text, finish_reason: e.finishReason, logprobs: wantLogprobs !== undefined ? legacyLogprobs(engine, lps, echo.length) : null }],
        usage: openaiUsage(e.usage),
      };
    }
  }
  throw new RequestError('the request ended without a result', 503);
}

async function* streamCompletion(
  engine: Engine,
  events: AsyncIterable<GenerationEvent>,
  base: Omit<Completion, 'choices'>,
  echo: string,
  includeUsage: boolean,
  logprobs: boolean,
): AsyncIterable<Completion> {
  let offset = echo.length;
  const usage = includeUsage ? { usage: null } : {};
  if (echo) yield { ...base, choices: [{ index: 0, text: echo, finish_reason: null, logprobs: null }], ...usage };
  for await (const e of events) {
    if (e.type === 'tokens') {
      if (!e.text && !e.logprobs) continue;
      const lp = logprobs && e.logprobs ? legacyLogprobs(engine, e.logprobs, offset) : null;
      offset += e.text.length;
      yield { ...base, choices: [{ index: 0, text: e.text, finish_reason: null, logprobs: lp }], ...usage };
    } else {
      yield { ...base, choices: [{ index: 0, text: e.text, finish_reason: e.finishReason, logprobs: null }], ...usage };
      if (includeUsage) yield { ...base, choices: [], usage: openaiUsage(e.usage) };
    }
  }
}
