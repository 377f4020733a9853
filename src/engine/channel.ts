/**
 * A single-consumer async queue: the step loop pushes events, a caller iterates them. When the
 * consumer stops early (break, return, throw), `onCancel` runs so the request can be aborted and
 * its KV blocks freed.
 */
export class EventChannel<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private waiter: ((r: IteratorResult<T>) => void) | undefined;
  private failer: ((e: unknown) => void) | undefined;
  private done = false;
  private error: unknown;
  private hasError = false;

  constructor(private readonly onCancel?: () => void) {}

  push(item: T): void {
    if (this.done) return;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = this.failer = undefined;
      w({ value: item, done: false });
    } else this.items.push(item);
  }

  end(): void {
    if (this.done) return;
    this.done = true;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = this.failer = undefined;
      w({ value: undefined as never, done: true });
    }
  }

  fail(e: unknown): void {
    if (this.done) return;
    this.error = e;
    this.hasError = true;
    this.done = true;
    if (this.failer) {
      const f = this.failer;
      this.waiter = this.failer = undefined;
      f(e);
    }
  }

  get closed(): boolean {
    return this.done;
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => {
        if (this.items.length) return Promise.resolve({ value: this.items.shift()!, done: false });
        if (this.hasError) return Promise.reject(this.error);
        if (this.done) return Promise.resolve({ value: undefined as never, done: true });
        return new Promise<IteratorResult<T>>((resolve, reject) => {
          this.waiter = resolve;
          this.failer = reject;
        });
      },
      return: () => {
        if (!this.done) {
          this.done = true;
          this.onCancel?.();
        }
        return Promise.resolve({ value: undefined as never, done: true });
      },
    };
  }
}
