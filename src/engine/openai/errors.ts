import { WgllmError, type ErrorCode } from '../../core/errors.js';

/** The OpenAI error body: what every OpenAI client knows how to show. */
export interface OpenAIErrorBody {
  error: {
    message: string;
    type: 'invalid_request_error' | 'not_found_error' | 'rate_limit_error' | 'server_error' | 'authentication_error';
    param: string | null;
    code: string | null;
  };
}

/** A request the engine refuses, with the HTTP status an API server should answer with. */
export class RequestError extends WgllmError {
  constructor(
    message: string,
    readonly status: 400 | 401 | 404 | 413 | 429 | 503 = 400,
    readonly param: string | null = null,
    readonly openaiCode: string | null = null,
    code: ErrorCode = 'invalid_argument',
  ) {
    super(code, message);
    this.name = 'RequestError';
  }

  toBody(): OpenAIErrorBody {
    const type =
      this.status === 404
        ? 'not_found_error'
        : this.status === 429
          ? 'rate_limit_error'
          : this.status === 401
            ? 'authentication_error'
            : this.status === 503
              ? 'server_error'
              : 'invalid_request_error';
    return { error: { message: this.message, type, param: this.param, code: this.openaiCode } };
  }
}

/** Any error as an OpenAI body + status: RequestErrors keep theirs, anything else is a 500. */
export function toOpenAIError(e: unknown): { status: number; body: OpenAIErrorBody } {
  if (e instanceof RequestError) return { status: e.status, body: e.toBody() };
  const message = e instanceof Error ? e.message : String(e);
  return { status: 500, body: { error: { message, type: 'server_error', param: null, code: null } } };
}
