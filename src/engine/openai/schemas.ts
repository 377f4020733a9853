import { z } from 'zod';

/**
 * The OpenAI request shapes the engine accepts (chat completions and completions), with vLLM's
 * common extensions (top_k, min_p, repetition_penalty, min_tokens, ignore_eos, stop_token_ids,
 * skip_special_tokens, include_stop_str_in_output). Unknown fields are accepted and ignored, as
 * OpenAI does; known fields of the wrong type or out of range are refused.
 */
const tokenId = z.number().int().min(0);

const samplingFields = {
  model: z.string().min(1).optional(),
  max_tokens: z.number().int().min(1).nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().gt(0).max(1).nullish(),
  n: z.literal(1, { message: 'only n = 1 is supported; send several requests instead' }).nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().optional() }).nullish(),
  stop: z.union([z.string(), z.array(z.string()).max(16)]).nullish(),
  presence_penalty: z.number().min(-2).max(2).nullish(),
  frequency_penalty: z.number().min(-2).max(2).nullish(),
  logit_bias: z.record(z.string().regex(/^\d+$/, 'logit_bias keys must be token ids'), z.number().min(-100).max(100)).nullish(),
  seed: z.number().int().nullish(),
  user: z.string().nullish(),
  // vLLM extensions
  top_k: z.number().int().min(-1).nullish(),
  min_p: z.number().min(0).max(1).nullish(),
  repetition_penalty: z.number().gt(0).max(10).nullish(),
  min_tokens: z.number().int().min(0).nullish(),
  ignore_eos: z.boolean().nullish(),
  stop_token_ids: z.array(tokenId).max(64).nullish(),
  skip_special_tokens: z.boolean().nullish(),
  include_stop_str_in_output: z.boolean().nullish(),
};

const contentPart = z.object({ type: z.literal('text'), text: z.string() });

export const chatMessageSchema = z.object({
  role: z.enum(['system', 'developer', 'user', 'assistant', 'tool']),
  content: z.union([z.string(), z.array(contentPart)]).nullable(),
  name: z.string().optional(),
});

export const chatCompletionRequestSchema = z.object({
  ...samplingFields,
  messages: z.array(chatMessageSchema).min(1, 'messages must hold at least one message'),
  max_completion_tokens: z.number().int().min(1).nullish(),
  logprobs: z.boolean().nullish(),
  top_logprobs: z.number().int().min(0).max(20).nullish(),
  add_generation_prompt: z.boolean().nullish(),
  response_format: z
    .object({ type: z.literal('text', { message: "only response_format type 'text' is supported" }) })
    .nullish(),
  tools: z.array(z.unknown()).max(0, 'tool calls are not supported').nullish(),
});

export const completionRequestSchema = z.object({
  ...samplingFields,
  prompt: z.union([
    z.string(),
    z.array(z.string()).length(1, 'only one prompt per request is supported'),
    z.array(tokenId).min(1),
    z.array(z.array(tokenId).min(1)).length(1, 'only one prompt per request is supported'),
  ]),
  echo: z.boolean().nullish(),
  logprobs: z.number().int().min(0).max(20).nullish(),
  suffix: z.null({ message: 'suffix is not supported' }).optional(),
  best_of: z.literal(1, { message: 'only best_of = 1 is supported' }).nullish(),
});

export type ChatMessage = z.infer<typeof chatMessageSchema>;
export type ChatCompletionRequest = z.input<typeof chatCompletionRequestSchema>;
export type CompletionRequest = z.input<typeof completionRequestSchema>;
export type ParsedChatRequest = z.output<typeof chatCompletionRequestSchema>;
export type ParsedCompletionRequest = z.output<typeof completionRequestSchema>;
