/**
 * Drains an async iterable into a buffer that the page pulls from in batches. One pull returns
 * every item produced since the previous pull, so a fast generation costs one message round
 * trip per batch of tokens rather than one per token; a slow one still streams each token as
 * soon as it exists.
 */
import type { StreamBatch } from './protocol.js';

export class StreamPump<T> {
  private readonly items: T[] = [];
  private done = false;
  private error: { e: unknown } | undefined;
  private wake: (() => void) | undefined;
  private readonly it: AsyncIterator<T>;

  constructor(source: AsyncIterable<T>) {
    this.it = source[Symbol.asyncIterator]();
    void this.run();
  }

  private async run(): Promise<void> {
    try {
      for (;;) {
        const r = await this.it.next();
        if (r.done) break;
        this.items.push(r.value);
        this.notify();
      }
    } catch (e) {
      this.error = { e };
    }
    this.done = true;
    this.notify();
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  /** Waits until there is something to return; items before an error are returned first. */
  async next(): Promise<StreamBatch<T>> {
    if (!this.items.length && !this.done) await new Promise<void>((resolve) => (this.wake = resolve));
    if (this.items.length) return { items: this.items.splice(0), done: this.done && !this.error };
    if (this.error) throw this.error.e;
    return { items: [], done: true };
  }

  /**
   * Stops reading the source. Not awaited: an async generator's `return` waits for its pending
   * `next`, which only settles at the request's next event; the caller aborts the request too.
   */
  cancel(): void {
    this.done = true;
    this.items.length = 0;
    this.notify();
    this.it.return?.()?.catch(() => undefined);
  }
}
