import { BinaryHeap } from './heap.js';

/**
 * SentencePiece-BPE encoding as llama.cpp (`llm_tokenizer_spm`) and llama2.c do it: start from
 * single characters, repeatedly merge the adjacent pair whose concatenation is the vocabulary
 * entry with the highest score (ties: the leftmost pair), and write characters that never
 * became a token as byte tokens <0xNN>.
 */

export interface SpmVocab {
  /** vocabulary string (spaces written as '▁') -> id */
  readonly ids: ReadonlyMap<string, number>;
  /** merge priority per id (SentencePiece log-probability, llama2.c: -rank) */
  readonly scores: ArrayLike<number>;
  /** id of the token <0xNN> for each byte value, -1 where the vocabulary has none */
  readonly byteIds: Int32Array;
  readonly unkId: number | undefined;
}

interface Bigram {
  left: number;
  right: number;
  score: number;
  /** length of the merged text; a bigram whose symbols changed since it was queued is stale */
  size: number;
}

const utf8 = new TextEncoder();

export const SPM_SPACE = '\u2581';

/** Writes the ids of `text` (already '▁'-escaped, prefix space included) to `out`. */
export function spmEncode(text: string, vocab: SpmVocab, out: number[]): void {
  const sym = Array.from(text); // code points; a symbol's text grows as it absorbs its right neighbour
  const n = sym.length;
  if (n === 0) return;
  const prev = new Int32Array(n);
  const next = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    prev[i] = i - 1;
    next[i] = i + 1 < n ? i + 1 : -1;
  }

  const queue = new BinaryHeap<Bigram>((a, b) =>
    a.score !== b.score ? a.score > b.score : a.left < b.left,
  );
  const tryAdd = (left: number, right: number) => {
    if (left < 0 || right < 0) return;
    const merged = sym[left]! + sym[right]!;
    const id = vocab.ids.get(merged);
    if (id === undefined) return;
    queue.push({ left, right, score: vocab.scores[id] ?? 0, size: merged.length });
  };
  for (let i = 1; i < n; i++) tryAdd(i - 1, i);

  for (let b = queue.pop(); b !== undefined; b = queue.pop()) {
    const l = sym[b.left]!;
    const r = sym[b.right]!;
    if (l.length === 0 || r.length === 0 || l.length + r.length !== b.size) continue;
    sym[b.left] = l + r;
    sym[b.right] = '';
    const after = next[b.right]!;
    next[b.left] = after;
    if (after >= 0) prev[after] = b.left;
    tryAdd(prev[b.left]!, b.left);
    tryAdd(b.left, after);
  }

  for (let i = 0; i >= 0; i = next[i]!) {
    const s = sym[i]!;
    const id = vocab.ids.get(s);
    if (id !== undefined) {
      out.push(id);
      continue;
    }
    // Only single characters can be missing from the vocabulary (merges always form entries).
    for (const byte of utf8.encode(s)) {
      const bid = vocab.byteIds[byte]!;
      if (bid >= 0) out.push(bid);
      else if (vocab.unkId !== undefined) out.push(vocab.unkId);
    }
  }
}

/** SentencePiece's whitespace escape: every ' ' becomes '▁'. */
export function spmEscape(text: string): string {
  return text.replaceAll(' ', SPM_SPACE);
}

const BYTE_TOKEN = /^<0x([0-9A-Fa-f]{2})>$/;

/** The byte value of a byte-fallback token '<0xNN>', or undefined. */
export function parseByteToken(token: string): number | undefined {
  const m = BYTE_TOKEN.exec(token);
  return m ? parseInt(m[1]!, 16) : undefined;
}

/** Bytes of an SPM vocabulary piece: byte tokens are their byte, '▁' is a space. */
export function spmPieceBytes(token: string, isByteToken: boolean): Uint8Array {
  if (isByteToken) {
    const b = parseByteToken(token);
    if (b !== undefined) return Uint8Array.of(b);
  }
  return utf8.encode(token.replaceAll(SPM_SPACE, ' '));
}
