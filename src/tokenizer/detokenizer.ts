import { WgllmError } from '../core/errors.js';
import { TextAssembler } from './text-assembler.js';
import type { Tokenizer } from './types.js';

export interface IncrementalDetokenizerOptions {
  skipSpecialTokens?: boolean;
  /**
   * Tokens that come before the ones pushed (the prompt). They produce no output but set the
   * state: a SentencePiece continuation keeps its leading space (" there") unless nothing
   * visible precedes it, and a character split between prompt and output comes out whole.
   */
  prefixIds?: Iterable<number>;
}

/**
 * Streaming detokenizer: push token ids as they are sampled, get back the text that is complete.
 *
 * It never emits part of a multi-byte character: bytes of an unfinished UTF-8 sequence (an emoji
 * split over byte-fallback or byte-level tokens) wait for the tokens that finish it. After
 * `flush()`, the concatenation of everything returned equals `decode(pushed)` when there is no
 * prefix, and `decode(prefixIds ++ pushed).slice(decode(prefixIds).length)` when the prefix ends
 * on a character boundary.
 */
export class IncrementalDetokenizer {
  private readonly assembler: TextAssembler;
  private emitted = '';
  private done = false;

  constructor(tokenizer: Tokenizer, options: IncrementalDetokenizerOptions = {}) {
    this.assembler = new TextAssembler(tokenizer, options.skipSpecialTokens ?? false);
    if (options.prefixIds !== undefined) this.assembler.push(options.prefixIds);
  }

  /** All text returned so far. */
  get text(): string {
    return this.emitted;
  }

  /** Adds tokens; returns the text they completed (often '', never half a character). */
  push(ids: number | Iterable<number>): string {
    if (this.done) {
      throw new WgllmError('invalid_argument', 'IncrementalDetokenizer.push() after flush(); create a new one per sequence');
    }
    const out = this.assembler.push(typeof ids === 'number' ? [ids] : ids);
    this.emitted += out;
    return out;
  }

  /** Ends the sequence; bytes of an unfinished character come out as U+FFFD. */
  flush(): string {
    if (this.done) return '';
    this.done = true;
    const out = this.assembler.flush();
    this.emitted += out;
    return out;
  }
}
