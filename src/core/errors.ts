/**
 * Every failure the engine reports on purpose is a WgllmError: a stable `code` that callers and
 * the HTTP layer can switch on, and a message that says what happened and what to do about it.
 */
export type ErrorCode =
  | 'no_webgpu' // no WebGPU implementation in this runtime
  | 'no_adapter' // WebGPU exists but offers no adapter
  | 'device_lost'
  | 'device_request_failed'
  | 'shader_compile' // a WGSL module or pipeline failed to build
  | 'unsupported' // a kernel/model/feature this adapter or build cannot run
  | 'invalid_argument' // a caller passed an impossible value
  | 'out_of_memory'
  | 'model_format' // a model file is corrupt, truncated or not what it claims
  | 'model_unsupported' // a well-formed model that uses something we do not implement
  | 'not_found'
  | 'aborted'
  | 'internal';

export class WgllmError extends Error {
  readonly code: ErrorCode;
  override readonly cause?: unknown;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message);
    this.name = 'WgllmError';
    this.code = code;
    if (options?.cause !== undefined) this.cause = options.cause;
  }
}

export function isWgllmError(e: unknown, code?: ErrorCode): e is WgllmError {
  return e instanceof WgllmError && (code === undefined || e.code === code);
}

/** Throws an `invalid_argument` WgllmError unless `cond` holds. */
export function check(cond: unknown, message: string): asserts cond {
  if (!cond) throw new WgllmError('invalid_argument', message);
}
