import type { GenerateParams } from '../types.js';
import type { ParsedChatRequest, ParsedCompletionRequest } from './schemas.js';

type Common = Omit<ParsedChatRequest, 'messages'> | Omit<ParsedCompletionRequest, 'prompt'>;

/** OpenAI / vLLM request fields -> the engine's GenerateParams (snake_case -> camelCase). */
export function toGenerateParams(r: Common, logprobs: number | undefined): GenerateParams {
  const p: GenerateParams = {};
  const set = <K extends keyof GenerateParams>(k: K, v: GenerateParams[K] | null | undefined) => {
    if (v !== undefined && v !== null) p[k] = v;
  };
  set('maxTokens', ('max_completion_tokens' in r ? r.max_completion_tokens : undefined) ?? r.max_tokens);
  set('temperature', r.temperature);
  set('topP', r.top_p);
  set('topK', r.top_k);
  set('minP', r.min_p);
  set('seed', r.seed);
  set('presencePenalty', r.presence_penalty);
  set('frequencyPenalty', r.frequency_penalty);
  set('repetitionPenalty', r.repetition_penalty);
  set('minTokens', r.min_tokens);
  set('ignoreEos', r.ignore_eos);
  set('stopTokenIds', r.stop_token_ids);
  set('skipSpecialTokens', r.skip_special_tokens);
  set('includeStopStrInOutput', r.include_stop_str_in_output);
  if (r.stop !== undefined && r.stop !== null) p.stop = r.stop;
  if (r.logit_bias) {
    p.logitBias = Object.fromEntries(Object.entries(r.logit_bias).map(([k, v]) => [Number(k), v]));
  }
  if (logprobs !== undefined) p.logprobs = logprobs;
  return p;
}
