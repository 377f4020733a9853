/**
 * GPT-2's byte-level alphabet: each of the 256 byte values is written as one printable Unicode
 * character, so a BPE vocabulary over bytes can be stored as strings ('Ġ' is the space byte 0x20,
 * 'Ċ' is '\n'). Printable Latin-1 bytes map to themselves; the other 68 go to U+0100.. in order.
 */

const BYTE_TO_CHAR: string[] = new Array<string>(256);
const CHAR_TO_BYTE = new Map<string, number>();

(() => {
  const printable = (b: number) =>
    (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  let next = 256;
  for (let b = 0; b < 256; b++) {
    const ch = String.fromCharCode(printable(b) ? b : next++);
    BYTE_TO_CHAR[b] = ch;
    CHAR_TO_BYTE.set(ch, b);
  }
})();

const utf8 = new TextEncoder();

/** The byte-level string of some bytes (what a byte-level vocabulary stores). */
export function bytesToByteLevel(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += BYTE_TO_CHAR[b]!;
  return s;
}

/**
 * The bytes a byte-level vocabulary entry stands for. An entry with a character outside the
 * alphabet is taken as plain text (its UTF-8), as HF tokenizers' ByteLevel decoder does.
 */
export function byteLevelToBytes(token: string): Uint8Array {
  const out = new Uint8Array(token.length);
  let n = 0;
  for (const ch of token) {
    const b = CHAR_TO_BYTE.get(ch);
    if (b === undefined) return utf8.encode(token);
    out[n++] = b;
  }
  return out.subarray(0, n);
}
