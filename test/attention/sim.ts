import { Rng } from '../../src/core/random.js';
import type { StepBatch, StepSeq } from '../../src/attention/types.js';

/**
 * A tiny scheduler for attention tests: sequences arrive with prompts, are prefilled in chunks
 * (so later chunks attend to a cached prefix), then decode; some new sequences share the full
 * prefix blocks of an earlier one (as prefix caching does). Blocks come from a shuffled free
 * list, so block tables are non-contiguous and out of order.
 */
export interface SimOptions {
  blockSize: number;
  numBlocks: number;
  maxSeqs: number;
  tokenBudget: number;
  maxPrompt: number;
  /** largest prefill chunk */
  maxChunk: number;
  /** chance that a new sequence shares the prefix blocks of a running one */
  shareChance?: number;
}

interface SimSeq {
  promptLen: number;
  computed: number;
  blocks: number[];
  /** decodes left before it finishes */
  decodesLeft: number;
}

export class BatchSim {
  private readonly free: number[];
  private readonly seqs: SimSeq[] = [];

  constructor(
    private readonly o: SimOptions,
    private readonly rng: Rng,
  ) {
    this.free = rng.shuffle(Array.from({ length: o.numBlocks - 1 }, (_, i) => i + 1));
  }

  private admit(): void {
    const r = this.rng;
    const promptLen = r.int(1, this.o.maxPrompt);
    const s: SimSeq = { promptLen, computed: 0, blocks: [], decodesLeft: r.int(0, 6) };
    const donor = this.seqs.find((d) => d.computed >= this.o.blockSize);
    if (donor && r.next() < (this.o.shareChance ?? 0.3)) {
      // Prefix-cache hit: share the donor's full blocks (never written again by either).
      const full = Math.min(Math.floor(donor.computed / this.o.blockSize), Math.floor((promptLen - 1) / this.o.blockSize));
      s.blocks = donor.blocks.slice(0, full);
      s.computed = full * this.o.blockSize;
    }
    this.seqs.push(s);
  }

  /** The next step: sequences in q-row order, each with its chunk; finished ones are dropped. */
  next(): StepBatch {
    const r = this.rng;
    while (this.seqs.length < this.o.maxSeqs && r.next() < 0.6) this.admit();
    if (this.seqs.length === 0) this.admit();
    let budget = this.o.tokenBudget;
    const out: StepSeq[] = [];
    for (const s of r.shuffle([...this.seqs])) {
      if (budget === 0) break;
      const ql = s.computed < s.promptLen ? Math.min(budget, r.int(1, this.o.maxChunk), s.promptLen - s.computed) : 1;
      const seqLen = s.computed + ql;
      while (s.blocks.length * this.o.blockSize < seqLen) {
        const b = this.free.pop();
        if (b === undefined) throw new Error('sim: out of blocks; give it more');
        s.blocks.push(b);
      }
      out.push({ queryLen: ql, seqLen, blockIds: [...s.blocks] });
      s.computed = seqLen;
      if (seqLen > s.promptLen) s.decodesLeft--;
      budget -= ql;
    }
    // Finished sequences leave; their blocks are not reused (another may share them).
    for (let i = this.seqs.length - 1; i >= 0; i--) if (this.seqs[i]!.decodesLeft < 0) this.seqs.splice(i, 1);
    return { seqs: out };
  }
}
