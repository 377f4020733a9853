import { describe, expect, it } from 'vitest';
import { Fnv1a64, fnv1a64, hashBlockTokens } from '../../src/kv/hash.js';

const bytes = (s: string): number[] => [...s].map((c) => c.charCodeAt(0));

describe('FNV-1a 64', () => {
  it('matches the reference test vectors', () => {
    expect(fnv1a64([])).toBe('cbf29ce484222325');
    expect(fnv1a64(bytes('a'))).toBe('af63dc4c8601ec8c');
    expect(fnv1a64(bytes('foobar'))).toBe('85944171f73967e8');
  });

  it('mixes a u32 as 4 little-endian bytes', () => {
    expect(new Fnv1a64().u32(0x04030201).digest()).toBe(fnv1a64([1, 2, 3, 4]));
    expect(new Fnv1a64().u32(0xffffffff).digest()).toBe(fnv1a64([255, 255, 255, 255]));
  });

  it('round-trips a hash fed back in', () => {
    const h = fnv1a64(bytes('foobar'));
    // 0x85944171f73967e8 as little-endian bytes
    expect(new Fnv1a64().hash(h).digest()).toBe(fnv1a64([0xe8, 0x67, 0x39, 0xf7, 0x71, 0x41, 0x94, 0x85]));
  });
});

describe('hashBlockTokens', () => {
  const tokens = [1, 2, 3, 4, 5, 6, 7, 8];
  it('is deterministic and covers parent, tokens and extra keys', () => {
    const a = hashBlockTokens(null, tokens, 0, 4, '');
    expect(a).toMatch(/^[0-9a-f]{16}$/);
    expect(hashBlockTokens(null, [1, 2, 3, 4], 0, 4, '')).toBe(a);
    expect(hashBlockTokens(null, tokens, 4, 8, '')).not.toBe(a);
    expect(hashBlockTokens(null, tokens, 0, 4, 'salt')).not.toBe(a);
    const b = hashBlockTokens(a, tokens, 4, 8, '');
    expect(b).not.toBe(hashBlockTokens(null, tokens, 4, 8, ''));
    expect(b).not.toBe(hashBlockTokens(hashBlockTokens(null, [9, 2, 3, 4], 0, 4, ''), tokens, 4, 8, ''));
  });
});
