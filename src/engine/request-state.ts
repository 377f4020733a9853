import type { ResolvedSampling } from '../core/sampling-params.js';
import { IncrementalDetokenizer, type Tokenizer } from '../tokenizer/index.js';
import { EventChannel } from './channel.js';
import { StopStringMatcher } from './stop-strings.js';
import type { FinishReason, GenerationEvent, TokenLogprob } from './types.js';

/**
 * The engine's side of one request: its event stream, streaming detokenizer, stop strings,
 * sampler slot and timings. The scheduler's Request holds the tokens and KV; this holds text.
 */
export class RequestState {
  readonly channel: EventChannel<GenerationEvent>;
  private readonly detok: IncrementalDetokenizer;
  private readonly stops: StopStringMatcher;
  /** sampler slot while running; -1 otherwise */
  slot = -1;
  numGenerated = 0;
  readonly arrival = performance.now();
  firstScheduled = -1;
  firstToken = -1;
  finished = false;
  cachedTokens = 0;

  constructor(
    readonly requestId: string,
    readonly promptTokenIds: readonly number[],
    readonly sampling: ResolvedSampling,
    tokenizer: Tokenizer,
    stop: readonly string[],
    includeStop: boolean,
    skipSpecialTokens: boolean,
    onCancel: () => void,
  ) {
    this.channel = new EventChannel(onCancel);
    // The prompt's last tokens are context for the first generated ones (SentencePiece spaces).
    this.detok = new IncrementalDetokenizer(tokenizer, { skipSpecialTokens, prefixIds: promptTokenIds.slice(-4) });
    this.stops = new StopStringMatcher(stop, includeStop);
  }

  /** Streams new tokens; returns the stop string if one matched (the request must end). */
  onTokens(tokenIds: readonly number[], logprobs: TokenLogprob[] | undefined): string | undefined {
    if (this.finished || tokenIds.length === 0) return undefined;
    if (this.firstToken < 0) this.firstToken = performance.now();
    this.numGenerated += tokenIds.length;
    const r = this.stops.push(this.detok.push([...tokenIds]));
    this.channel.push({
      type: 'tokens',
      requestId: this.requestId,
      tokenIds: [...tokenIds],
      text: r.text,
      ...(logprobs ? { logprobs } : {}),
    });
    return r.stop;
  }

  finish(reason: FinishReason, stop?: string | number): void {
    if (this.finished) return;
    this.finished = true;
    const now = performance.now();
    const tail = reason === 'stop' && typeof stop === 'string' ? '' : this.stops.push(this.detok.flush()).text + this.stops.flush();
    this.channel.push({
      type: 'finish',
      requestId: this.requestId,
      finishReason: reason,
      ...(stop !== undefined ? { stop } : {}),
      text: tail,
      usage: { promptTokens: this.promptTokenIds.length, completionTokens: this.numGenerated, cachedTokens: this.cachedTokens },
      timings: {
        queuedMs: (this.firstScheduled < 0 ? now : this.firstScheduled) - this.arrival,
        ttftMs: (this.firstToken < 0 ? now : this.firstToken) - this.arrival,
        totalMs: now - this.arrival,
      },
    });
    this.channel.end();
  }

  fail(e: unknown): void {
    if (this.finished) return;
    this.finished = true;
    this.channel.fail(e);
  }
}
