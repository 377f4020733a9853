// Which queries and keys a paged-attention workgroup takes (attention.wgsl, attention-tensor.wgsl).
// Grid x: tiles of TQ queries of one sequence, found by binary search over queryStartLoc:
// sequence s owns the tile ids from floor(queryStartLoc[s] / TQ) + s, so the grid needs no
// per-step table; ids past a sequence's last tile get nq = 0 and exit. Grid y: the kv head.
// Also the loads of a key tile into registers (load_kv), shared by both kernels.
// Prelude library; needs TQ, BLOCK_SIZE and CV (16-byte chunks per cached key row; consts or
// overrides), Params { numSeqs, window, numKvHeads }, queryStartLoc, seqLens, blockTables; for
// load_kv also TK, WG, NL (chunks per invocation) and the private arrays kreg, vreg (>= NL each),
// kCache and vCache.

var<workgroup> tile: vec4<u32>; // (seq, first token, queries in tile, first query pos)

struct Tile {
  seq: u32,
  token0: u32,  // global token index of the tile's first query
  nq: u32,      // valid queries in the tile (0: nothing to do)
  pos0: u32,    // position of the first query in its sequence
  kvh: u32,
}

// Thread 0 finds the tile's sequence; the result is read back uniformly by every invocation.
fn find_tile(wid: vec3u, lid: u32) -> Tile {
  if (lid == 0u) {
    let id = wid.x;
    var lo = 0u;
    var hi = params.numSeqs;
    while (hi - lo > 1u) {
      let mid = (lo + hi) / 2u;
      if (queryStartLoc[mid] / TQ + mid <= id) { lo = mid; } else { hi = mid; }
    }
    let q0 = queryStartLoc[lo];
    let ql = queryStartLoc[lo + 1u] - q0;
    let i0 = (id - (q0 / TQ + lo)) * TQ;
    var nq = 0u;
    if (i0 < ql) { nq = min(TQ, ql - i0); }
    tile = vec4<u32>(lo, q0 + i0, nq, seqLens[lo] - ql + i0);
  }
  let t = workgroupUniformLoad(&tile);
  return Tile(t.x, t.y, t.z, t.w, wid.y);
}

// First key of the tile (sliding window: the first query's window start) and one past its last.
fn key_range(tl: Tile) -> vec2<u32> {
  var lo = 0u;
  if (params.window > 0u && tl.pos0 + 1u > params.window) { lo = tl.pos0 + 1u - params.window; }
  return vec2<u32>(lo, tl.pos0 + tl.nq);
}

// Index of 16-byte chunk c of key p's row of the tile's kv head in the paged cache
// [numBlocks, numKvHeads, BLOCK_SIZE, CV]; btRow: the sequence's first block-table entry.
fn cache_chunk(tl: Tile, btRow: u32, p: u32, c: u32) -> u32 {
  let block = blockTables[btRow + p / BLOCK_SIZE];
  return ((block * params.numKvHeads + tl.kvh) * BLOCK_SIZE + p % BLOCK_SIZE) * CV + c;
}

// Issues the loads of the key tile at t0 (its K and V) into kreg / vreg; keys at or
// past kHi load as zeros. Nothing waits for them until the caller stages them, so they stay in
// flight while the previous tile computes (the block-table lookup and the cache read are two
// dependent trips to memory: serialized per tile, they dominated). btRow: the sequence's first
// block-table entry.
fn load_kv(tl: Tile, t0: u32, kHi: u32, lid: u32, btRow: u32) {
  for (var l = 0u; l < NL; l++) {
    let i = lid + l * WG;
    let p = t0 + i / CV;
    var kx = kv_chunk();
    var vx = kv_chunk();
    if (i < TK * CV && p < kHi) {
      let src = cache_chunk(tl, btRow, p, i % CV);
      kx = kCache[src];
      vx = vCache[src];
    }
    kreg[l] = kx;
    vreg[l] = vx;
  }
}
