/**
 * 64-bit FNV-1a over bytes, computed on two 32-bit halves so that hashing a prompt costs no
 * bigint allocation per token (this runs for every full block of every request).
 *
 * The prefix cache uses these hashes only as an index: a cached block is reused only after its
 * tokens, extra keys and parent link compare equal (see prefix-cache.ts), so hash quality affects
 * speed, never correctness. Deterministic on every platform, so block hashes could be shared
 * across processes (KV events, a future disaggregated cache).
 */

/** A block hash: 16 lowercase hex digits (64 bits). Strings are cheap, exact `Map` keys. */
export type BlockHash = string;

const OFFSET_HI = 0xcbf29ce4;
const OFFSET_LO = 0x84222325;
// The FNV-64 prime is 2^40 + 0x1b3: multiplying by it is h * 0x1b3 + (h << 40).
const PRIME_LOW = 0x1b3;
const TWO_32 = 4294967296;

/** Running FNV-1a state; `hi`/`lo` are the two unsigned 32-bit halves. */
export class Fnv1a64 {
  private hi = OFFSET_HI;
  private lo = OFFSET_LO;

  /** Mixes one byte (0..255). */
  byte(b: number): this {
    const lo = (this.lo ^ (b & 0xff)) >>> 0;
    const prod = lo * PRIME_LOW; // < 2^41: exact in a double
    const carry = Math.floor(prod / TWO_32);
    this.hi = (Math.imul(this.hi, PRIME_LOW) + carry + (lo << 8)) >>> 0;
    this.lo = prod >>> 0;
    return this;
  }

  /** Mixes an unsigned 32-bit integer as 4 little-endian bytes. */
  u32(v: number): this {
    return this.byte(v).byte(v >>> 8).byte(v >>> 16).byte(v >>> 24);
  }

  /** Mixes a string as its length, then its UTF-16 code units (2 bytes each): length-prefixed so
   * that concatenations cannot alias ("ab"+"c" vs "a"+"bc"). */
  string(s: string): this {
    this.u32(s.length);
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      this.byte(c).byte(c >>> 8);
    }
    return this;
  }

  /** Mixes another 64-bit hash given as 16 hex digits. */
  hash(h: BlockHash): this {
    return this.u32(parseInt(h.slice(8, 16), 16)).u32(parseInt(h.slice(0, 8), 16));
  }

  digest(): BlockHash {
    return this.hi.toString(16).padStart(8, '0') + this.lo.toString(16).padStart(8, '0');
  }
}

/** FNV-1a 64 of raw bytes (exposed for the reference test vectors). */
export function fnv1a64(bytes: ArrayLike<number>): BlockHash {
  const h = new Fnv1a64();
  for (let i = 0; i < bytes.length; i++) h.byte(bytes[i]!);
  return h.digest();
}

/**
 * The hash of one full block: its parent's hash (or none for the first block), the token ids in
 * `tokenIds[start, end)`, and the extra keys (a cache salt, only on the first block: the chain
 * carries it to every later block).
 */
export function hashBlockTokens(
  parent: BlockHash | null,
  tokenIds: readonly number[],
  start: number,
  end: number,
  extraKeys: string,
): BlockHash {
  const h = new Fnv1a64();
  // A tag byte keeps "no parent" distinct from any parent hash value.
  if (parent === null) h.byte(0);
  else h.byte(1).hash(parent);
  h.u32(end - start);
  for (let i = start; i < end; i++) h.u32(tokenIds[i]!);
  h.string(extraKeys);
  return h.digest();
}
