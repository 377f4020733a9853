/**
 * Tokenizers for wgllm: one `Tokenizer` interface over HF tokenizer.json, GGUF-embedded
 * vocabularies and llama2.c tokenizer.bin; a streaming detokenizer; chat templates.
 * Pure TypeScript on web standards only (TextEncoder/TextDecoder): runs in browsers and Node.
 */
import { WgllmError } from '../core/errors.js';
import type { GgufMetadata } from './gguf-metadata.js';
import { tokenizerFromGguf } from './gguf.js';
import { HfTokenizer } from './hf-tokenizer.js';
import type { Llama2cTokenizerOptions } from './llama2c.js';
import { tokenizerFromLlama2c } from './llama2c.js';
import type { Tokenizer } from './types.js';

export type {
  ChatMessage,
  DecodeOptions,
  EncodeOptions,
  SpecialToken,
  SpecialTokenIds,
  Tokenizer,
  TokenizerKind,
} from './types.js';
export type { GgufMetadata } from './gguf-metadata.js';
export type { Llama2cTokenizerOptions } from './llama2c.js';
export { IncrementalDetokenizer, type IncrementalDetokenizerOptions } from './detokenizer.js';
export { applyChatTemplate, renderChat, templateSpecialTokens, type ChatTemplateOptions } from './chat-template.js';
export { tokenizerFromGguf } from './gguf.js';
export { tokenizerFromLlama2c } from './llama2c.js';

/** Where a tokenizer comes from; all inputs are already in memory (parsed JSON, metadata, bytes). */
export type TokenizerSource =
  | {
      type: 'hf';
      /** parsed tokenizer.json */
      tokenizerJson: Record<string, unknown>;
      /** parsed tokenizer_config.json: bos/eos, add_bos_token, chat_template */
      tokenizerConfig?: Record<string, unknown>;
    }
  | { type: 'gguf'; metadata: GgufMetadata }
  | ({ type: 'llama2c'; data: Uint8Array | ArrayBuffer } & Llama2cTokenizerOptions);

/** A tokenizer from parsed HF tokenizer.json (+ tokenizer_config.json). */
export function tokenizerFromHf(
  tokenizerJson: Record<string, unknown>,
  tokenizerConfig?: Record<string, unknown>,
): Tokenizer {
  if (tokenizerJson === null || typeof tokenizerJson !== 'object') {
    throw new WgllmError('invalid_argument', 'tokenizerJson must be the parsed tokenizer.json object');
  }
  return new HfTokenizer({ tokenizerJson, ...(tokenizerConfig ? { tokenizerConfig } : {}) });
}

export function loadTokenizer(source: TokenizerSource): Tokenizer {
  switch (source.type) {
    case 'hf':
      return tokenizerFromHf(source.tokenizerJson, source.tokenizerConfig);
    case 'gguf':
      return tokenizerFromGguf(source.metadata);
    case 'llama2c': {
      const { data, ...options } = source;
      return tokenizerFromLlama2c(data, options);
    }
    default:
      throw new WgllmError(
        'invalid_argument',
        `unknown tokenizer source type '${String((source as { type?: unknown }).type)}' (use 'hf', 'gguf' or 'llama2c')`,
      );
  }
}
