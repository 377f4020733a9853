import { describe, expect, it } from 'vitest';
import { submitParts } from '../../src/engine/engine.js';

// The layer ranges a long step is submitted in (Engine.launch): every layer once, in order, the
// first part as asked and each later one at most four times the layers before it.
describe('submitParts', () => {
  it('splits 32 layers into 1, 4, 16, 32 and covers any count', () => {
    expect(submitParts(32, 1)).toEqual([1, 4, 16, 32]);
    expect(submitParts(32, 8)).toEqual([8, 32]);
    expect(submitParts(1, 1)).toEqual([1]);
    expect(submitParts(3, 1)).toEqual([1, 3]);
    for (let L = 1; L <= 80; L++) {
      const ends = submitParts(L, 1);
      expect(ends.at(-1)).toBe(L);
      ends.forEach((e, i) => expect(e).toBeGreaterThan(i ? ends[i - 1]! : 0));
    }
  });
  it('takes a first part of at least one layer', () => {
    expect(submitParts(5, 0)).toEqual([1, 4, 5]);
  });
});
