/**
 * A fast 64-bit string hash (two independent 32-bit lanes, cyrb53-style mixing) as 16 hex
 * digits. The tune key hashes every kernel's WGSL and every tunable space at model load, and
 * core/hash.ts (BigInt FNV) costs ~1 ms per 3 KB: too slow for the < 50 ms all-hits budget.
 * The values are persisted, so this function must never change (bump TUNE_SCHEMA if it does).
 */
export function fastHash(text: string): string {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (h1 >>> 0).toString(16).padStart(8, '0') + (h2 >>> 0).toString(16).padStart(8, '0');
}

/**
 * JSON with object keys sorted, so equal configs hash equally whatever their key order. Tune keys
 * hash each kernel's whole config space at every start (thousands of configs for a model), so
 * this stays on JSON.stringify's native path: its key-list form writes the keys of every object
 * in the list's order, and the list is the sorted union of all keys present.
 */
export function stableJson(value: unknown): string {
  const keys = new Set<string>();
  collectKeys(value, keys);
  return JSON.stringify(value, [...keys].sort());
}

function collectKeys(v: unknown, keys: Set<string>): void {
  if (v === null || typeof v !== 'object') return;
  if (Array.isArray(v)) {
    for (const x of v) collectKeys(x, keys);
    return;
  }
  for (const k of Object.keys(v)) {
    keys.add(k);
    collectKeys((v as Record<string, unknown>)[k], keys);
  }
}
