import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Scheduler } from '../../src/scheduler/scheduler.js';
import { Request, RequestStatus } from '../../src/scheduler/request.js';
import type { SchedulerConfig } from '../../src/scheduler/config.js';
import type { SchedulerOutput } from '../../src/scheduler/output.js';

/**
 * Random add / step / abort sequences against tiny pools (so preemption and eviction happen
 * often), with a fake model that writes each scheduled token into a shadow KV cache and reads
 * every attended position back through the block table. Checks: no block leaked or double
 * freed, ref counts equal block-table occurrences, shared prefix blocks hold the right tokens,
 * budgets respected, and once everything finishes the pool is entirely free. Half the runs
 * schedule asynchronously: step N+1 is scheduled (and run) before step N's samples are applied,
 * its placeholder inputs fed with step N's samples as the GPU would.
 */

const EOS = 5;
// Few bases over a tiny vocabulary: prompts share prefixes often, so the cache gets hits.
const BASES = [0, 1, 2].map((b) => Array.from({ length: 64 }, (_, i) => (i * (b + 3) + b) % 5));

type Op =
  | { kind: 'add'; base: number; len: number; tail: number[]; maxTokens: number; salt: boolean }
  | { kind: 'step'; seed: number }
  | { kind: 'abort'; pick: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('add' as const), base: fc.integer({ min: 0, max: 2 }), len: fc.integer({ min: 1, max: 20 }), tail: fc.array(fc.integer({ min: 0, max: 6 }), { maxLength: 3 }), maxTokens: fc.integer({ min: 1, max: 8 }), salt: fc.boolean() }) },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('step' as const), seed: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('abort' as const), pick: fc.nat() }) },
);

const configArb: fc.Arbitrary<SchedulerConfig> = fc
  .record({
    blockSize: fc.constantFrom(1, 2, 4),
    numBlocks: fc.integer({ min: 2, max: 10 }),
    maxNumBatchedTokens: fc.integer({ min: 1, max: 32 }),
    maxNumSeqs: fc.integer({ min: 1, max: 5 }),
    enablePrefixCaching: fc.boolean(),
    longPrefillTokenThreshold: fc.constantFrom(0, 0, 1, 3),
    enableChunkedPrefill: fc.constantFrom(true, true, true, false),
    asyncScheduling: fc.boolean(),
  })
  .map((c) => {
    const capacity = (c.numBlocks - 1) * c.blockSize;
    return c.enableChunkedPrefill ? c : { ...c, maxNumBatchedTokens: Math.max(c.maxNumBatchedTokens, capacity) };
  });

class Harness {
  readonly s: Scheduler;
  readonly cfg: Required<Pick<SchedulerConfig, 'blockSize' | 'numBlocks' | 'maxNumBatchedTokens' | 'maxNumSeqs'>>;
  readonly capacity: number;
  // The truth, kept apart from the scheduler's Request objects.
  readonly tokensOf = new Map<string, number[]>();
  readonly maxTokensOf = new Map<string, number>();
  readonly promptLenOf = new Map<string, number>();
  readonly counters = { steps: 0, preempted: 0, hitTokens: 0, chunks: 0, fed: 0 };
  readonly finalStatus = new Map<string, string>();
  readonly live: string[] = [];
  private readonly shadow = new Map<number, number[]>(); // blockId -> token at each slot
  private nextId = 0;
  // Async scheduling: the step run but not yet applied, and its samples (on the GPU, as it were)
  private inFlight: { out: SchedulerOutput; sampled: Map<string, number[]> } | undefined;
  private readonly async: boolean;

  constructor(config: SchedulerConfig) {
    this.s = new Scheduler(config);
    this.cfg = config;
    this.capacity = (config.numBlocks - 1) * config.blockSize;
    this.async = config.asyncScheduling ?? false;
  }

  add(op: Extract<Op, { kind: 'add' }>): void {
    const prompt = [...BASES[op.base]!.slice(0, op.len), ...op.tail].slice(0, this.capacity);
    const requestId = `r${this.nextId++}`;
    this.s.addRequest(new Request({ requestId, promptTokenIds: prompt, samplingParams: { maxTokens: op.maxTokens }, eosTokenId: EOS, cacheSalt: op.salt ? 'x' : undefined }));
    this.tokensOf.set(requestId, [...prompt]);
    this.maxTokensOf.set(requestId, op.maxTokens);
    this.promptLenOf.set(requestId, prompt.length);
    this.live.push(requestId);
  }

  abort(pick: number): void {
    if (this.live.length === 0) return;
    const id = this.live[pick % this.live.length]!;
    this.s.finishRequests([id], RequestStatus.FINISHED_ABORTED);
    this.retire(id, RequestStatus.FINISHED_ABORTED);
  }

  step(seed: number): void {
    const out = this.s.schedule();
    this.checkOutput(out);
    this.counters.steps++;
    this.counters.preempted += out.preempted.length;
    this.counters.chunks += out.scheduled.filter((r) => !r.samplesThisStep).length;
    this.runModel(out);
    const sampled = new Map<string, number[]>();
    for (const r of out.scheduled) {
      if (!r.samplesThisStep) continue;
      const token = (seed + r.requestId.length * 7 + r.numComputedTokensBefore * 13 + Number(r.requestId.slice(1))) % 7;
      sampled.set(r.requestId, [token]);
    }
    const previous = this.inFlight;
    this.inFlight = this.async ? { out, sampled } : undefined;
    this.apply(this.async ? previous : { out, sampled });
  }

  /** Applies a step's samples, as the engine does when they are read back. */
  private apply(step: { out: SchedulerOutput; sampled: Map<string, number[]> } | undefined): void {
    if (!step) return;
    const update = this.s.updateFromOutput(step.out, step.sampled);
    for (const u of update.updates) this.tokensOf.get(u.requestId)!.push(...u.newTokenIds);
    for (const r of update.finished) this.retire(r.requestId, r.status);
  }

  /** The known tokens of a request plus the one in flight for it (async scheduling). */
  private truth(requestId: string): number[] {
    const pending = this.inFlight?.sampled.get(requestId);
    return [...this.tokensOf.get(requestId)!, ...(pending ?? [])];
  }

  /** The fake forward pass: write this step's KV, then check every attended position. */
  private runModel(out: SchedulerOutput): void {
    const bs = this.cfg.blockSize;
    const inputs = new Map<string, number[]>();
    for (const r of out.scheduled) {
      // Inputs past the known tokens are placeholders: the previous step's sample, fed on the GPU.
      const fed = r.numScheduledTokens - r.tokenIds.length;
      expect(fed === 0 || (this.async && fed === 1)).toBe(true);
      const input = [...r.tokenIds, ...(fed ? this.inFlight!.sampled.get(r.requestId)! : [])];
      expect(input.length).toBe(r.numScheduledTokens);
      inputs.set(r.requestId, input);
      this.counters.fed += fed;
      for (let i = 0; i < r.numScheduledTokens; i++) {
        const p = r.numComputedTokensBefore + i;
        const blockId = r.blockIds[Math.floor(p / bs)]!;
        const slots = this.shadow.get(blockId) ?? [];
        slots[p % bs] = input[i]!;
        this.shadow.set(blockId, slots);
      }
    }
    for (const r of out.scheduled) {
      const truth = this.truth(r.requestId);
      const end = r.numComputedTokensBefore + r.numScheduledTokens;
      expect(inputs.get(r.requestId)).toEqual(truth.slice(r.numComputedTokensBefore, end));
      const seen = Array.from({ length: end }, (_, p) => this.shadow.get(r.blockIds[Math.floor(p / bs)]!)?.[p % bs]);
      expect(seen).toEqual(truth.slice(0, end));
    }
  }

  private checkOutput(out: SchedulerOutput): void {
    const sum = out.scheduled.reduce((n, r) => n + r.numScheduledTokens, 0);
    expect(out.numBatchedTokens).toBe(sum);
    expect(sum).toBeLessThanOrEqual(this.cfg.maxNumBatchedTokens);
    expect(this.s.numRunning).toBeLessThanOrEqual(this.cfg.maxNumSeqs);
    const ids = out.scheduled.map((r) => r.requestId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const r of out.scheduled) {
      expect(r.numScheduledTokens).toBeGreaterThan(0);
      expect(out.preempted).not.toContain(r.requestId);
      expect(r.blockIds.slice(r.blockIds.length - r.newBlockIds.length)).toEqual(r.newBlockIds);
      expect(r.blockIds.length).toBe(Math.ceil((r.numComputedTokensBefore + r.numScheduledTokens) / this.cfg.blockSize));
    }
    this.checkPool();
  }

  /** Ref counts equal block-table occurrences; the free queue holds exactly the unreferenced.
   * Compares whole arrays once: an expect() per block would dominate the run time. */
  checkPool(): void {
    const kv = this.s.kvCacheManager;
    const counts = new Array<number>(this.cfg.numBlocks).fill(0);
    const badTables: string[] = [];
    for (const id of this.live) {
      const req = this.s.getRequest(id)!;
      const blockIds = kv.getBlockIds(id);
      const expected = req.status === RequestStatus.RUNNING ? Math.ceil(req.numComputedTokens / this.cfg.blockSize) : 0;
      if (blockIds.length !== expected || (req.status !== RequestStatus.RUNNING && req.numComputedTokens !== 0)) badTables.push(id);
      for (const b of blockIds) counts[b]!++;
    }
    expect(badTables).toEqual([]);
    expect(kv.requestIds().filter((id) => !this.live.includes(id))).toEqual([]);
    const free = kv.pool.freeBlockIds();
    expect(free.length).toBe(kv.numFreeBlocks);
    const refCnts = counts.map((_, b) => (b === 0 ? 0 : kv.pool.getBlock(b).refCnt));
    expect(refCnts).toEqual(counts); // includes: block 0 in no table
    const unreferenced = counts.flatMap((n, b) => (b > 0 && n === 0 ? [b] : []));
    expect([...free].sort((x, y) => x - y)).toEqual(unreferenced); // no duplicates, no block 0
  }

  private retire(id: string, status: string): void {
    this.live.splice(this.live.indexOf(id), 1);
    this.finalStatus.set(id, status);
  }
}

describe('Scheduler + KVCacheManager under random workloads', () => {
  it('never leaks or double-frees a block, and ends with the pool entirely free', () => {
    const totals = { runs: 0, preempted: 0, hitTokens: 0, chunks: 0, fed: 0 };
    fc.assert(
      fc.property(configArb, fc.array(opArb, { minLength: 5, maxLength: 80, size: 'medium' }), (config, ops) => {
        const h = new Harness(config);
        for (const op of ops) {
          if (op.kind === 'add') h.add(op);
          else if (op.kind === 'step') h.step(op.seed);
          else h.abort(op.pick);
          h.checkPool();
        }
        for (let i = 0; i < 5000 && h.s.hasUnfinishedRequests(); i++) h.step(i);
        expect(h.s.hasUnfinishedRequests()).toBe(false);
        expect(h.live).toEqual([]);
        const kv = h.s.kvCacheManager;
        expect(kv.numFreeBlocks).toBe(config.numBlocks - 1);
        expect(kv.usage).toBe(0);
        expect(kv.requestIds()).toEqual([]);
        h.checkPool();
        // every request that was not aborted ended the way its tokens say
        for (const [id, status] of h.finalStatus) {
          const tokens = h.tokensOf.get(id)!;
          const numOutputTokens = tokens.length - h.promptLenOf.get(id)!;
          const maxTokens = h.maxTokensOf.get(id)!;
          expect(numOutputTokens).toBeLessThanOrEqual(maxTokens);
          if (status === RequestStatus.FINISHED_STOPPED) expect(tokens.at(-1)).toBe(EOS);
          else if (status === RequestStatus.FINISHED_LENGTH_CAPPED) expect(numOutputTokens === maxTokens || tokens.length >= h.capacity).toBe(true);
          else expect(status).toBe(RequestStatus.FINISHED_ABORTED);
        }
        totals.runs++;
        totals.preempted += h.counters.preempted;
        totals.hitTokens += h.s.prefixCacheStats.hits;
        totals.chunks += h.counters.chunks;
        totals.fed += h.counters.fed;
      }),
      { numRuns: 300 },
    );
    // the workload really exercised preemption, prefix hits and chunked prefill
    expect(totals.preempted).toBeGreaterThan(0);
    expect(totals.hitTokens).toBeGreaterThan(0);
    expect(totals.chunks).toBeGreaterThan(0);
    expect(totals.fed).toBeGreaterThan(0); // steps scheduled on placeholders
  });
});
