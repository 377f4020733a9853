import { Template } from '@huggingface/jinja';
import { WgllmError } from '../core/errors.js';
import type { ChatMessage, Tokenizer } from './types.js';

/**
 * Chat templates: the Jinja program a model ships (tokenizer_config.json `chat_template`, GGUF
 * `tokenizer.chat_template`) that turns a list of messages into the exact prompt text the model
 * was trained on. Rendered with @huggingface/jinja, with the variables transformers provides.
 */
export interface ChatTemplateOptions {
  /** end with the opening of an assistant turn, so the model answers (default true) */
  addGenerationPrompt?: boolean;
  /** token strings the template may use: bos_token, eos_token, unk_token, pad_token */
  specialTokens?: Readonly<Record<string, string | undefined>>;
  /** further template variables (tools, documents, enable_thinking, ...) */
  variables?: Readonly<Record<string, unknown>>;
}

// Parsing a template costs far more than rendering it; models reuse one template for every request.
const parsed = new Map<string, Template>();
const MAX_CACHED = 16;

/** Renders `messages` with `template`. A missing template is a WgllmError('model_unsupported'). */
export function applyChatTemplate(
  template: string | null | undefined,
  messages: readonly ChatMessage[],
  options: ChatTemplateOptions = {},
): string {
  if (typeof template !== 'string' || template.trim() === '') {
    throw new WgllmError(
      'model_unsupported',
      'this model has no chat template (no chat_template in tokenizer_config.json, no tokenizer.chat_template in the GGUF); ' +
        'pass a template explicitly or send a plain completion prompt instead of chat messages',
    );
  }
  if (!Array.isArray(messages)) {
    throw new WgllmError('invalid_argument', 'chat messages must be an array of {role, content}');
  }
  let program = parsed.get(template);
  if (program === undefined) {
    try {
      program = new Template(template);
    } catch (e) {
      throw new WgllmError('model_format', `the chat template does not parse: ${errorMessage(e)}`, { cause: e });
    }
    if (parsed.size >= MAX_CACHED) parsed.delete(parsed.keys().next().value!);
    parsed.set(template, program);
  }
  const context: Record<string, unknown> = {};
  // Unset values are left out so that templates see them as undefined ({% if bos_token is defined %}).
  for (const [k, v] of Object.entries({ ...options.specialTokens, ...options.variables })) {
    if (v !== undefined) context[k] = v;
  }
  context.messages = messages;
  context.add_generation_prompt = options.addGenerationPrompt ?? true;
  try {
    return program.render(context);
  } catch (e) {
    // Mostly the template's own raise_exception("roles must alternate ..."): the caller's
    // messages do not fit the model's chat format.
    throw new WgllmError('invalid_argument', `the chat template failed on these messages: ${errorMessage(e)}`, {
      cause: e,
    });
  }
}

/** The special-token strings of `tokenizer`, under the names chat templates use. */
export function templateSpecialTokens(tokenizer: Tokenizer): Record<string, string | undefined> {
  const name = (id: number | undefined) => (id === undefined ? undefined : tokenizer.idToToken(id));
  const ids = tokenizer.specialTokenIds;
  return {
    bos_token: name(ids.bos),
    eos_token: name(ids.eos),
    unk_token: name(ids.unk),
    pad_token: name(ids.pad),
  };
}

/** Renders with the tokenizer's own template and special tokens. */
export function renderChat(
  tokenizer: Tokenizer,
  messages: readonly ChatMessage[],
  options: Omit<ChatTemplateOptions, 'specialTokens'> = {},
): string {
  return applyChatTemplate(tokenizer.chatTemplate, messages, {
    ...options,
    specialTokens: templateSpecialTokens(tokenizer),
  });
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
