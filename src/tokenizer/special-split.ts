import type { SpecialToken } from './types.js';

/** A piece of input: plain text to tokenize, or a special token written literally in the text. */
export type Fragment = string | number;

/**
 * Cuts `text` at every literal occurrence of a special token, as llama.cpp's
 * `tokenizer_st_partition` does: longer tokens claim their occurrences first, then shorter ones
 * are looked for in the text that remains. Empty text pieces are dropped.
 */
export function splitOnSpecialTokens(text: string, specials: readonly SpecialToken[]): Fragment[] {
  let fragments: Fragment[] = text.length > 0 ? [text] : [];
  const byLength = specials
    .filter((s) => s.content.length > 0)
    .sort((a, b) => b.content.length - a.content.length);
  for (const { id, content } of byLength) {
    const next: Fragment[] = [];
    for (const f of fragments) {
      if (typeof f === 'number' || !f.includes(content)) {
        next.push(f);
        continue;
      }
      let start = 0;
      for (let at = f.indexOf(content); at >= 0; at = f.indexOf(content, start)) {
        if (at > start) next.push(f.slice(start, at));
        next.push(id);
        start = at + content.length;
      }
      if (start < f.length) next.push(f.slice(start));
    }
    fragments = next;
  }
  return fragments;
}
