import { isWgllmError } from '../core/errors.js';
import { RequestError, toOpenAIError, type OpenAIErrorBody } from '../engine/openai/errors.js';

/**
 * HTTP-level refusals the engine's RequestError does not cover (405, 415, 503 while loading or
 * draining), with the same OpenAI error body, so every non-2xx answer of the server reads alike
 * to OpenAI clients.
 */
export class HttpError extends Error {
  constructor(
    readonly status: 400 | 401 | 404 | 405 | 413 | 415 | 429 | 503,
    message: string,
    readonly code: string | null = null,
    readonly headers: Record<string, string> = {},
    readonly param: string | null = null,
  ) {
    super(message);
    this.name = 'HttpError';
  }

  toBody(): OpenAIErrorBody {
    const type =
      this.status === 401
        ? 'authentication_error'
        : this.status === 404
          ? 'not_found_error'
          : this.status === 429
            ? 'rate_limit_error'
            : this.status === 503
              ? 'server_error'
              : 'invalid_request_error';
    return { error: { message: this.message, type, param: this.param, code: this.code } };
  }
}

export interface ErrorAnswer {
  status: number;
  body: OpenAIErrorBody;
  headers: Record<string, string>;
  /** an error the server did not expect: worth a log line with its stack */
  unexpected: boolean;
}

/** Any thrown value as the answer to send: known refusals keep their status, the rest are 500s. */
export function errorAnswer(e: unknown): ErrorAnswer {
  if (e instanceof HttpError) return { status: e.status, body: e.toBody(), headers: e.headers, unexpected: false };
  if (e instanceof RequestError) {
    const headers: Record<string, string> = e.status === 429 || e.status === 503 ? { 'retry-after': '1' } : {};
    return { ...toOpenAIError(e), headers, unexpected: false };
  }
  // The engine was disposed under a request (shutdown): the client may retry elsewhere.
  if (isWgllmError(e, 'invalid_argument') && /disposed/.test(e.message)) {
    return answer(new HttpError(503, 'the server is shutting down', 'shutting_down', { 'retry-after': '1' }));
  }
  const { status, body } = toOpenAIError(e);
  return { status, body, headers: {}, unexpected: true };
}

function answer(e: HttpError): ErrorAnswer {
  return { status: e.status, body: e.toBody(), headers: e.headers, unexpected: false };
}
