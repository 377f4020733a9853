/**
 * Stop strings over streamed text. Text is held back while its tail could still be the start of
 * a stop string (a stop string may arrive split across tokens), so nothing past a stop is ever
 * streamed. `push` returns the text that is safe to emit now.
 */
export interface StopResult {
  /** text safe to stream now */
  text: string;
  /** the stop string that matched, if any (generation must end) */
  stop?: string;
}

export class StopStringMatcher {
  private pending = '';
  private readonly maxLen: number;

  constructor(
    private readonly stops: readonly string[],
    private readonly includeStopInOutput = false,
  ) {
    this.maxLen = Math.max(0, ...stops.map((s) => s.length));
  }

  push(delta: string): StopResult {
    if (this.stops.length === 0) return { text: delta };
    this.pending += delta;
    // The earliest stop occurrence wins, whichever stop string it is.
    let best = -1;
    let bestStop = '';
    for (const s of this.stops) {
      if (!s) continue;
      const i = this.pending.indexOf(s);
      if (i >= 0 && (best < 0 || i < best)) {
        best = i;
        bestStop = s;
      }
    }
    if (best >= 0) {
      const text = this.pending.slice(0, best + (this.includeStopInOutput ? bestStop.length : 0));
      this.pending = '';
      return { text, stop: bestStop };
    }
    const hold = this.holdback();
    const text = this.pending.slice(0, this.pending.length - hold);
    this.pending = this.pending.slice(this.pending.length - hold);
    return { text };
  }

  /** Everything still held back (call when generation ends for another reason). */
  flush(): string {
    const t = this.pending;
    this.pending = '';
    return t;
  }

  /** Length of the longest tail of `pending` that is a proper prefix of some stop string. */
  private holdback(): number {
    const p = this.pending;
    for (let n = Math.min(p.length, this.maxLen - 1); n > 0; n--) {
      const tail = p.slice(p.length - n);
      if (this.stops.some((s) => s.length > n && s.startsWith(tail))) return n;
    }
    return 0;
  }
}
