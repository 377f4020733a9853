import { describe, expect, it } from 'vitest';
import { BinaryHeap } from '../../src/tokenizer/heap.js';
import { splitOnSpecialTokens } from '../../src/tokenizer/special-split.js';
import { spmEncode, spmEscape, type SpmVocab } from '../../src/tokenizer/spm.js';

/** A hand-made SentencePiece vocabulary: [piece, score]; byte tokens <0x00>.. are added first. */
function vocab(pieces: [string, number][], withBytes = true): { v: SpmVocab; tokens: string[] } {
  const tokens: string[] = ['<unk>'];
  const scores: number[] = [0];
  const byteIds = new Int32Array(256).fill(-1);
  if (withBytes) {
    for (let b = 0; b < 256; b++) {
      byteIds[b] = tokens.length;
      tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
      scores.push(0);
    }
  }
  for (const [p, s] of pieces) {
    tokens.push(p);
    scores.push(s);
  }
  const ids = new Map(tokens.map((t, i) => [t, i]));
  return { v: { ids, scores, byteIds, unkId: 0 }, tokens };
}

function encode(text: string, v: SpmVocab, tokens: string[]): string[] {
  const out: number[] = [];
  spmEncode(spmEscape(text), v, out);
  return out.map((id) => tokens[id]!);
}

describe('SPM merge-by-score', () => {
  it('merges the highest-scoring pair first', () => {
    const { v, tokens } = vocab([
      ['a', -1], ['b', -1], ['c', -1],
      ['ab', -5], ['bc', -2], ['abc', -1],
    ]);
    // bc (-2) beats ab (-5); then a + bc = 'abc' exists
    expect(encode('abc', v, tokens)).toEqual(['abc']);
    const { v: v2, tokens: t2 } = vocab([['a', -1], ['b', -1], ['c', -1], ['ab', -5], ['bc', -2]]);
    expect(encode('abc', v2, t2)).toEqual(['a', 'bc']);
  });

  it('breaks score ties by the leftmost pair', () => {
    const { v, tokens } = vocab([['a', -1], ['aa', -3]]);
    expect(encode('aaa', v, tokens)).toEqual(['aa', 'a']);
    expect(encode('aaaaa', v, tokens)).toEqual(['aa', 'aa', 'a']);
  });

  it('does not reuse a stale pair after a neighbour merged', () => {
    // 'xy' (-1) forms first; the queued pair (y, z) is stale and 'xyz' never forms
    const { v, tokens } = vocab([['x', 0], ['y', 0], ['z', 0], ['xy', -1], ['yz', -2], ['xyz', -9]]);
    expect(encode('xyz', v, tokens)).toEqual(['xyz']); // (xy, z) -> 'xyz' exists
    const { v: v2, tokens: t2 } = vocab([['x', 0], ['y', 0], ['z', 0], ['xy', -1], ['yz', -2]]);
    expect(encode('xyz', v2, t2)).toEqual(['xy', 'z']);
  });

  it('writes characters missing from the vocabulary as UTF-8 byte tokens, or <unk> without them', () => {
    const { v, tokens } = vocab([['▁', -1], ['a', -1]]);
    expect(encode(' a€', v, tokens)).toEqual(['▁', 'a', '<0xE2>', '<0x82>', '<0xAC>']);
    const { v: v2, tokens: t2 } = vocab([['a', -1]], false);
    expect(encode('a€', v2, t2)).toEqual(['a', '<unk>', '<unk>', '<unk>']);
  });

  it('handles astral characters as one symbol and the empty string', () => {
    const { v, tokens } = vocab([['😀', -1], ['😀😀', -2]]);
    expect(encode('😀😀😀', v, tokens)).toEqual(['😀😀', '😀']);
    expect(encode('', v, tokens)).toEqual([]);
  });

  it('is linear-ish: 20k characters encode quickly', () => {
    const { v, tokens } = vocab([['a', -1], ['b', -1], ['ab', -2], ['abab', -3], ['▁', -1]]);
    const t0 = performance.now();
    const out = encode('ab'.repeat(10_000), v, tokens);
    expect(out.length).toBe(5000);
    expect(performance.now() - t0).toBeLessThan(2000);
  });
});

describe('special-token splitting', () => {
  const specials = [
    { id: 1, content: '<s>' },
    { id: 2, content: '</s>' },
    { id: 3, content: '<|im_start|>' },
  ];
  it('cuts at each literal occurrence and keeps the text between', () => {
    expect(splitOnSpecialTokens('a<s>b</s><s>', specials)).toEqual(['a', 1, 'b', 2, 1]);
    expect(splitOnSpecialTokens('<|im_start|>user', specials)).toEqual([3, 'user']);
    expect(splitOnSpecialTokens('', specials)).toEqual([]);
    expect(splitOnSpecialTokens('plain', [])).toEqual(['plain']);
  });
  it('lets longer tokens claim their text first', () => {
    expect(splitOnSpecialTokens('x<ab>y', [{ id: 1, content: '<a' }, { id: 2, content: '<ab>' }])).toEqual(['x', 2, 'y']);
  });
});

describe('BinaryHeap', () => {
  it('pops in order', () => {
    const h = new BinaryHeap<number>((a, b) => a < b);
    const xs = [5, 3, 9, 1, 1, 8, 2, 7, 0, 6];
    for (const x of xs) h.push(x);
    const out: number[] = [];
    for (let x = h.pop(); x !== undefined; x = h.pop()) out.push(x);
    expect(out).toEqual([...xs].sort((a, b) => a - b));
    expect(h.size).toBe(0);
  });
});
