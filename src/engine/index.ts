export { Engine, type EngineParts } from './engine.js';
export { createEngine, WgllmEngine, type EngineOptions, type LoadProgress } from './create.js';
export type { GenerateParams, GenerateOptions, GenerationEvent, EngineStats, FinishReason, TokenLogprob, Usage } from './types.js';
export { RequestError, toOpenAIError, type OpenAIErrorBody } from './openai/errors.js';
export type { ChatCompletion, ChatCompletionChunk, OpenAIUsage } from './openai/chat.js';
export type { Completion } from './openai/completions.js';
export type { ChatCompletionRequest, CompletionRequest, ChatMessage as OpenAIChatMessage } from './openai/schemas.js';
export { StopStringMatcher } from './stop-strings.js';
