import type { z } from 'zod';
import { RequestError } from './errors.js';
import {
  chatCompletionRequestSchema,
  completionRequestSchema,
  type ParsedChatRequest,
  type ParsedCompletionRequest,
} from './schemas.js';

function firstIssue(error: z.ZodError): RequestError {
  const issue = error.issues[0]!;
  const param = issue.path.length ? issue.path.map(String).join('.') : null;
  const where = param ? `'${param}': ` : '';
  return new RequestError(`Invalid request: ${where}${issue.message}`, 400, param, 'invalid_value');
}

function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new RequestError('Invalid request: the body must be a JSON object', 400, null, 'invalid_json');
  }
  const r = schema.safeParse(body);
  if (!r.success) throw firstIssue(r.error);
  return r.data;
}

export function parseChatRequest(body: unknown): ParsedChatRequest {
  return parse(chatCompletionRequestSchema, body);
}

export function parseCompletionRequest(body: unknown): ParsedCompletionRequest {
  return parse(completionRequestSchema, body);
}
