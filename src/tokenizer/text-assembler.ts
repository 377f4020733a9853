import type { Tokenizer } from './types.js';

/**
 * Turns a stream of token ids into text: token bytes -> leading-space strip -> streaming UTF-8.
 *
 * Both `decode()` (all ids at once) and `IncrementalDetokenizer` (a few ids at a time) run through
 * this class, so their outputs agree by construction. The WHATWG streaming UTF-8 decoder gives the
 * same characters for any split of the byte stream as for the whole stream: an incomplete
 * multi-byte sequence at the end of a chunk is held back, an invalid one becomes U+FFFD
 * (maximal-subpart rule, like Rust's `from_utf8_lossy` in HF tokenizers).
 */
export class TextAssembler {
  // ignoreBOM: a token may legitimately produce U+FEFF; the default would silently drop it.
  private readonly utf8 = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
  private stripLeft: number;

  constructor(
    private readonly tokenizer: Tokenizer,
    private readonly skipSpecialTokens: boolean,
  ) {
    this.stripLeft = tokenizer.leadingSpacesToStrip;
  }

  /** Text that became complete after adding `ids`. */
  push(ids: Iterable<number>): string {
    const chunks: Uint8Array[] = [];
    let total = 0;
    for (const id of ids) {
      if (this.skipSpecialTokens && this.tokenizer.isSpecialToken(id)) continue;
      let bytes = this.tokenizer.tokenBytes(id);
      if (this.stripLeft > 0) bytes = this.strip(bytes);
      if (bytes.length === 0) continue;
      chunks.push(bytes);
      total += bytes.length;
    }
    if (total === 0) return '';
    return this.utf8.decode(concat(chunks, total), { stream: true });
  }

  /** Ends the stream: bytes of an unfinished character come out as U+FFFD. */
  flush(): string {
    return this.utf8.decode();
  }

  // HF's Strip decoder removes up to n leading spaces of the whole decoded string, whichever
  // tokens they came from; once a non-space byte has been seen nothing more is stripped.
  private strip(bytes: Uint8Array): Uint8Array {
    let i = 0;
    while (i < bytes.length && this.stripLeft > 0 && bytes[i] === 0x20) {
      i++;
      this.stripLeft--;
    }
    if (i < bytes.length) this.stripLeft = 0;
    return i === 0 ? bytes : bytes.subarray(i);
  }
}

function concat(chunks: Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}
