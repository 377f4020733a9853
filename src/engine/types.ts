import type { SamplingParams } from '../core/sampling-params.js';

/** Everything one generation request asks for: sampling plus the engine's stop controls. */
export interface GenerateParams extends SamplingParams {
  /** default: up to the context length */
  maxTokens?: number;
  /** EOS and stop tokens do not end generation before this many tokens */
  minTokens?: number;
  /** keep the matched stop string in the output (default false) */
  includeStopStrInOutput?: boolean;
  /** leave special tokens out of the text (default true) */
  skipSpecialTokens?: boolean;
  /** extra key for the prefix cache: requests with different salts never share blocks */
  cacheSalt?: string;
}

export interface TokenLogprob {
  token: number;
  logprob: number;
  /** the `logprobs` most likely tokens at this position (raw model logprobs) */
  top: { token: number; logprob: number }[];
}

export type FinishReason = 'stop' | 'length' | 'abort';

export interface Usage {
  promptTokens: number;
  completionTokens: number;
  /** prompt tokens served from the prefix cache */
  cachedTokens: number;
}

export type GenerationEvent =
  | {
      type: 'tokens';
      requestId: string;
      /** new token ids (the stop-string tail is not included in `text`) */
      tokenIds: number[];
      /** text that is safe to show now */
      text: string;
      logprobs?: TokenLogprob[];
    }
  | {
      type: 'finish';
      requestId: string;
      finishReason: FinishReason;
      /** the matched stop string or stop token, if that is why it ended */
      stop?: string | number;
      /** text held back until the end (never part of a stop string) */
      text: string;
      usage: Usage;
      /** timings in ms: queued (arrival -> first scheduled), ttft (arrival -> first token), total */
      timings: { queuedMs: number; ttftMs: number; totalMs: number };
    };

export interface GenerateOptions {
  signal?: AbortSignal;
  /** a caller-chosen id (default: generated) */
  requestId?: string;
}

export interface EngineStats {
  numRunning: number;
  numWaiting: number;
  /** fraction of KV blocks in use */
  kvCacheUsage: number;
  numKvBlocks: number;
  prefixCache: { queries: number; hits: number; hitRate: number };
  totals: { requests: number; promptTokens: number; generationTokens: number; steps: number; preemptions: number };
}
