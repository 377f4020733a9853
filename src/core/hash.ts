/**
 * 64-bit FNV-1a over a string, as 16 hex digits. Used to key caches by WGSL source text and
 * tunable spaces: deterministic on every platform, fast, and collisions are harmless there
 * (a wrong hit would only pick a different valid config, and the key has other parts too).
 */
export function hashString(text: string): string {
  let h = 0xcbf29ce484222325n;
  const prime = 0x100000001b3n;
  const mask = 0xffffffffffffffffn;
  for (let i = 0; i < text.length; i++) {
    h ^= BigInt(text.charCodeAt(i));
    h = (h * prime) & mask;
  }
  return h.toString(16).padStart(16, '0');
}
