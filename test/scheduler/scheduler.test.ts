import { describe, expect, it } from 'vitest';
import { Scheduler } from '../../src/scheduler/scheduler.js';
import { RequestStatus } from '../../src/scheduler/request.js';
import { makeRequest, range, step, summary } from './helpers.js';

const base = { maxNumBatchedTokens: 8, maxNumSeqs: 4, blockSize: 4, numBlocks: 32, enablePrefixCaching: false };

describe('Scheduler: budget and chunked prefill', () => {
  it('chunks a long prompt over steps, then decodes one token a step', () => {
    const s = new Scheduler(base);
    s.addRequest(makeRequest('a', range(100, 20), { maxTokens: 2 }));
    const s0 = step(s).out;
    expect(s0.step).toBe(0);
    expect(s0.scheduled).toEqual([
      {
        requestId: 'a',
        numScheduledTokens: 8,
        numComputedTokensBefore: 0,
        tokenIds: range(100, 8),
        blockIds: [1, 2],
        newBlockIds: [1, 2],
        isNewRequest: true,
        samplesThisStep: false,
      },
    ]);
    expect(s0.numBatchedTokens).toBe(8);
    const s1 = step(s).out;
    expect(summary(s1)).toEqual([['a', 8, 8]]);
    expect(s1.scheduled[0]!.blockIds).toEqual([1, 2, 3, 4]);
    expect(s1.scheduled[0]!.isNewRequest).toBe(false);
    const s2 = step(s, () => 42);
    expect(summary(s2.out)).toEqual([['a', 16, 4]]);
    expect(s2.out.scheduled[0]!.samplesThisStep).toBe(true);
    expect(s2.update.updates).toEqual([{ requestId: 'a', newTokenIds: [42], finishedStatus: null }]);
    const s3 = step(s, () => 43);
    expect(s3.out.scheduled[0]).toMatchObject({ numComputedTokensBefore: 20, numScheduledTokens: 1, tokenIds: [42], newBlockIds: [6] });
    expect(s3.update.finished.map((r) => [r.requestId, r.status, r.outputTokenIds])).toEqual([['a', 'FINISHED_LENGTH_CAPPED', [42, 43]]]);
    expect(s.kvCacheUsage).toBe(0);
    const s4 = s.schedule();
    expect(s4.scheduled).toEqual([]);
    expect(s4.finished).toEqual(['a']);
    expect(s.hasUnfinishedRequests()).toBe(false);
  });

  it('schedules running requests first, then waiting ones FCFS within the budget', () => {
    const s = new Scheduler({ ...base, maxNumBatchedTokens: 10 });
    s.addRequest(makeRequest('a', range(0, 6)));
    s.addRequest(makeRequest('b', range(10, 6)));
    s.addRequest(makeRequest('c', range(20, 3)));
    const s0 = step(s).out;
    expect(summary(s0)).toEqual([['a', 0, 6], ['b', 0, 4]]);
    expect(s0.scheduled.map((r) => r.samplesThisStep)).toEqual([true, false]);
    const s1 = step(s).out;
    expect(summary(s1)).toEqual([['a', 6, 1], ['b', 4, 2], ['c', 0, 3]]);
    expect(s1.numBatchedTokens).toBe(6);
    expect(summary(step(s).out)).toEqual([['a', 7, 1], ['b', 6, 1], ['c', 3, 1]]);
    expect(s.getRequest('c')!.arrivalOrder).toBe(2);
  });

  it('never runs more than maxNumSeqs requests', () => {
    const s = new Scheduler({ ...base, maxNumBatchedTokens: 64, maxNumSeqs: 2 });
    for (const id of ['a', 'b', 'c']) s.addRequest(makeRequest(id, range(0, 3), { maxTokens: 2 }));
    expect(summary(step(s).out)).toEqual([['a', 0, 3], ['b', 0, 3]]);
    expect(s.numWaiting).toBe(1);
    expect(summary(step(s).out)).toEqual([['a', 3, 1], ['b', 3, 1]]); // both finish here
    expect(summary(step(s).out)).toEqual([['c', 0, 3]]);
  });

  it('caps each long prompt with longPrefillTokenThreshold so prompts share a step', () => {
    const s = new Scheduler({ ...base, maxNumBatchedTokens: 16, longPrefillTokenThreshold: 4 });
    s.addRequest(makeRequest('a', range(0, 10)));
    s.addRequest(makeRequest('b', range(0, 10)));
    expect(summary(step(s).out)).toEqual([['a', 0, 4], ['b', 0, 4]]);
    expect(summary(step(s).out)).toEqual([['a', 4, 4], ['b', 4, 4]]);
    expect(summary(step(s).out)).toEqual([['a', 8, 2], ['b', 8, 2]]);
  });

  it('without chunked prefill, a prompt waits for a step it fits whole', () => {
    const s = new Scheduler({ ...base, maxNumBatchedTokens: 8, numBlocks: 5, maxModelLen: 8, enableChunkedPrefill: false });
    s.addRequest(makeRequest('a', range(0, 5), { maxTokens: 2 }));
    s.addRequest(makeRequest('b', range(0, 5), { maxTokens: 2 }));
    expect(summary(step(s).out)).toEqual([['a', 0, 5]]);
    expect(summary(step(s).out)).toEqual([['a', 5, 1], ['b', 0, 5]]);
  });
});

describe('Scheduler: preemption', () => {
  it('preempts the last admitted request by recompute when blocks run out; all complete', () => {
    // 4 usable blocks of 4 tokens: two 7-token prompts fill the pool
    const s = new Scheduler({ ...base, maxNumBatchedTokens: 32, numBlocks: 5 });
    s.addRequest(makeRequest('a', range(0, 7)));
    s.addRequest(makeRequest('b', range(10, 7)));
    expect(summary(step(s, () => 50).out)).toEqual([['a', 0, 7], ['b', 0, 7]]);
    expect(s.kvCacheUsage).toBe(1);
    expect(summary(step(s, () => 51).out)).toEqual([['a', 7, 1], ['b', 7, 1]]); // 8 tokens fit 2 blocks
    const s2 = step(s, () => 52).out; // each needs a 3rd block: b goes
    expect(summary(s2)).toEqual([['a', 8, 1]]);
    expect(s2.preempted).toEqual(['b']);
    const b = s.getRequest('b')!;
    expect([b.status, b.numComputedTokens, b.numPreemptions, b.outputTokenIds]).toEqual(['PREEMPTED', 0, 1, [50, 51]]);
    expect(s.kvCacheManager.getBlockIds('b')).toEqual([]);
    const s3 = step(s, () => 53); // a finishes (4 tokens); b cannot come back yet
    expect(summary(s3.out)).toEqual([['a', 9, 1]]);
    expect(s3.update.finished.map((r) => r.requestId)).toEqual(['a']);
    const s4 = step(s, () => 60).out; // b recomputes prompt + its 2 outputs in one chunk
    expect(s4.scheduled).toMatchObject([{ requestId: 'b', numComputedTokensBefore: 0, numScheduledTokens: 9, isNewRequest: true, samplesThisStep: true }]);
    expect(s4.scheduled[0]!.tokenIds).toEqual([...range(10, 7), 50, 51]);
    expect(s4.finished).toEqual(['a']);
    step(s, () => 61);
    expect(b.status).toBe(RequestStatus.FINISHED_LENGTH_CAPPED);
    expect(b.outputTokenIds).toEqual([50, 51, 60, 61]);
    expect(s.kvCacheUsage).toBe(0);
    expect(s.kvCacheManager.numFreeBlocks).toBe(4);
  });

  it('with prefix caching a preempted request recomputes only its evicted tail', () => {
    const s = new Scheduler({ ...base, maxNumBatchedTokens: 32, numBlocks: 5, enablePrefixCaching: true });
    s.addRequest(makeRequest('a', range(0, 7)));
    s.addRequest(makeRequest('b', range(10, 7)));
    step(s, () => 50);
    step(s, () => 51);
    expect(step(s, () => 52).out.preempted).toEqual(['b']);
    // b's blocks were freed tail first, so a's new block evicted b's second block only
    step(s, () => 53);
    const back = s.schedule();
    expect(back.scheduled).toMatchObject([{ requestId: 'b', numComputedTokensBefore: 4, numScheduledTokens: 5 }]);
    expect(s.getRequest('b')!.numCachedTokens).toBe(0); // first admission had no hit
  });

  it('a request that needs the whole pool preempts everyone else and still finishes', () => {
    const s = new Scheduler({ ...base, maxNumBatchedTokens: 64, numBlocks: 4, blockSize: 2 }); // 6 token slots
    s.addRequest(makeRequest('a', range(0, 2), { maxTokens: 4 }));
    s.addRequest(makeRequest('b', range(0, 2), { maxTokens: 4 }));
    s.addRequest(makeRequest('c', range(0, 2), { maxTokens: 4 }));
    const finished: string[] = [];
    let preemptions = 0;
    for (let i = 0; i < 50 && s.hasUnfinishedRequests(); i++) {
      const { out, update } = step(s);
      expect(out.numBatchedTokens).toBeLessThanOrEqual(64);
      preemptions += out.preempted.length;
      finished.push(...update.finished.map((r) => r.requestId));
    }
    expect(finished.sort()).toEqual(['a', 'b', 'c']);
    expect(preemptions).toBeGreaterThan(0);
    expect(s.kvCacheManager.numFreeBlocks).toBe(3);
  });
});

describe('Scheduler: prefix cache', () => {
  it('skips computed blocks on a hit and counts queries and hits in tokens', () => {
    const s = new Scheduler({ ...base, maxNumBatchedTokens: 32, enablePrefixCaching: true });
    s.addRequest(makeRequest('a', range(0, 10), { maxTokens: 1 }));
    const s0 = step(s).out;
    expect(s0.scheduled[0]!.blockIds).toEqual([1, 2, 3]);
    s.addRequest(makeRequest('b', [...range(0, 8), 90, 91, 92], { maxTokens: 1 }));
    const s1 = step(s).out;
    expect(s1.scheduled).toMatchObject([{ requestId: 'b', numComputedTokensBefore: 8, numScheduledTokens: 3, blockIds: [1, 2, 4], newBlockIds: [4] }]);
    expect(s1.scheduled[0]!.tokenIds).toEqual([90, 91, 92]);
    expect(s.prefixCacheStats).toEqual({ requests: 2, queries: 21, hits: 8 });
    expect(s1.finished).toEqual(['a']); // a finished at step 0 and left its blocks cached
  });

  it('shares a prefix computed by a request admitted earlier in the same step', () => {
    const s = new Scheduler({ ...base, maxNumBatchedTokens: 32, enablePrefixCaching: true });
    s.addRequest(makeRequest('a', range(0, 9)));
    s.addRequest(makeRequest('b', range(0, 9)));
    const out = s.schedule();
    expect(summary(out)).toEqual([['a', 0, 9], ['b', 8, 1]]);
    expect(out.scheduled.map((r) => r.blockIds)).toEqual([[1, 2, 3], [1, 2, 4]]);
    expect(s.getRequest('b')!.numCachedTokens).toBe(8);
  });
});

describe('Scheduler: abort and stop', () => {
  it('aborts running and waiting requests at any time and frees their blocks', () => {
    const s = new Scheduler({ ...base, maxNumSeqs: 1 });
    s.addRequest(makeRequest('a', range(0, 12)));
    s.addRequest(makeRequest('b', range(0, 3)));
    const s0 = s.schedule(); // a mid-prefill
    expect(s.kvCacheUsage).toBeGreaterThan(0);
    s.finishRequests(['a', 'b', 'unknown'], RequestStatus.FINISHED_ABORTED);
    expect(s.kvCacheUsage).toBe(0);
    // the in-flight step's sample for an aborted request is dropped
    const u = s.updateFromOutput(s0, new Map([['a', [5]]]));
    expect(u.updates).toEqual([]);
    const s1 = s.schedule();
    expect(s1.scheduled).toEqual([]);
    expect(s1.finished).toEqual(['a', 'b']);
    expect(s.hasUnfinishedRequests()).toBe(false);
    s.finishRequests('a', RequestStatus.FINISHED_ABORTED); // again: ignored
  });

  it('stops on EOS and stop tokens after minTokens, unless ignoreEos', () => {
    const s = new Scheduler({ ...base, maxNumBatchedTokens: 64 });
    s.addRequest(makeRequest('eos', range(0, 2), { maxTokens: 9 }, { eosTokenId: 2 }));
    s.addRequest(makeRequest('min', range(0, 2), { maxTokens: 9, minTokens: 2 }, { eosTokenId: 2 }));
    s.addRequest(makeRequest('ign', range(0, 2), { maxTokens: 3, ignoreEos: true }, { eosTokenId: 2 }));
    s.addRequest(makeRequest('stop', range(0, 2), { maxTokens: 9, stopTokenIds: [7] }));
    const seen = new Map<string, string>();
    const tokens = [2, 2, 7]; // sampled at steps 0, 1, 2
    for (let i = 0; i < 3; i++) {
      for (const r of step(s, () => tokens[i]!).update.finished) seen.set(r.requestId, `${r.status}@${r.numOutputTokens}:${r.stopTokenId}`);
    }
    expect(Object.fromEntries(seen)).toEqual({
      eos: 'FINISHED_STOPPED@1:2',
      min: 'FINISHED_STOPPED@2:2',
      stop: 'FINISHED_STOPPED@3:7',
      ign: 'FINISHED_LENGTH_CAPPED@3:null',
    });
  });

  it('lets the engine stop a request (stop strings) and caps at maxModelLen', () => {
    const s = new Scheduler({ ...base, maxNumBatchedTokens: 64, maxModelLen: 6 });
    s.addRequest(makeRequest('a', range(0, 4), { maxTokens: 100 }));
    s.addRequest(makeRequest('b', range(0, 2), { maxTokens: 100 }));
    const out = s.schedule();
    const u = s.updateFromOutput(out, new Map([['a', [1]], ['b', [9]]]), (r, ids) => (ids.includes(9) ? 'FINISHED_STOPPED' : null));
    expect(u.updates.map((x) => [x.requestId, x.finishedStatus])).toEqual([['a', null], ['b', 'FINISHED_STOPPED']]);
    expect(step(s).update.finished.map((r) => [r.requestId, r.status, r.numTokens])).toEqual([['a', 'FINISHED_LENGTH_CAPPED', 6]]);
  });

  it('rejects bad requests and configs with invalid_argument', () => {
    const s = new Scheduler({ ...base, maxModelLen: 8 });
    s.addRequest(makeRequest('a', range(0, 8)));
    expect(() => s.addRequest(makeRequest('a', range(0, 2)))).toThrow(/already in use/);
    expect(() => s.addRequest(makeRequest('long', range(0, 9)))).toThrow(/exceed maxModelLen/);
    expect(() => makeRequest('e', [])).toThrow(/empty/);
    expect(() => makeRequest('t', [-1])).toThrow(/bad token id/);
    expect(() => makeRequest('m', [1], { maxTokens: 0 })).toThrow(/maxTokens/);
    expect(() => new Scheduler({ ...base, numBlocks: 3, maxModelLen: 9 })).toThrow(/exceeds the KV cache/);
    expect(() => new Scheduler({ ...base, enableChunkedPrefill: false })).toThrow(/chunked prefill/);
    expect(() => new Scheduler({ ...base, maxNumSeqs: 0 })).toThrow(/maxNumSeqs/);
  });
});

describe('Scheduler: async scheduling (step N+1 scheduled before step N is applied)', () => {
  const sampledFor = (out: ReturnType<Scheduler['schedule']>, token: number) =>
    new Map(out.scheduled.filter((r) => r.samplesThisStep).map((r) => [r.requestId, [token]]));

  it('schedules the in-flight token as a placeholder input, and nothing past the length stop', () => {
    const s = new Scheduler({ ...base, asyncScheduling: true });
    s.addRequest(makeRequest('a', range(100, 3), { maxTokens: 3 }));
    const s0 = s.schedule();
    expect(summary(s0)).toEqual([['a', 0, 3]]);
    // Step 0's sample is still on the GPU: step 1 gets one placeholder input (no known token id).
    const s1 = s.schedule();
    expect(s1.scheduled[0]).toMatchObject({ numComputedTokensBefore: 3, numScheduledTokens: 1, tokenIds: [], samplesThisStep: true });
    expect(s.updateFromOutput(s0, sampledFor(s0, 7)).updates).toEqual([{ requestId: 'a', newTokenIds: [7], finishedStatus: null }]);
    // Step 1's sample will be output 2 of 3; step 2 computes output 3, the last: nothing after it.
    const s2 = s.schedule();
    expect(s2.scheduled[0]).toMatchObject({ numComputedTokensBefore: 4, numScheduledTokens: 1, tokenIds: [], samplesThisStep: true });
    s.updateFromOutput(s1, sampledFor(s1, 8));
    expect(s.schedule().scheduled).toEqual([]);
    const last = s.updateFromOutput(s2, sampledFor(s2, 9));
    expect(last.finished.map((r) => [r.requestId, r.status, r.outputTokenIds])).toEqual([['a', 'FINISHED_LENGTH_CAPPED', [7, 8, 9]]]);
    expect(s.kvCacheUsage).toBe(0);
  });

  it('drops the sample of a request that finished meanwhile, even when a new request took its id', () => {
    const s = new Scheduler({ ...base, asyncScheduling: true });
    s.addRequest(makeRequest('a', range(0, 2), { maxTokens: 8 }, { eosTokenId: 5 }));
    const s0 = s.schedule();
    const s1 = s.schedule(); // computes past step 0's sample, which turns out to be EOS
    expect(s.updateFromOutput(s0, sampledFor(s0, 5)).finished.map((r) => r.status)).toEqual(['FINISHED_STOPPED']);
    s.addRequest(makeRequest('a', range(50, 2), { maxTokens: 8 }));
    const s2 = s.schedule();
    expect(summary(s2)).toEqual([['a', 0, 2]]);
    expect(s.updateFromOutput(s1, sampledFor(s1, 9)).updates).toEqual([]);
    const again = s.getRequest('a')!;
    expect([again.outputTokenIds, again.numOutputPlaceholders]).toEqual([[], 1]);
    expect(s.updateFromOutput(s2, sampledFor(s2, 11)).updates).toEqual([{ requestId: 'a', newTokenIds: [11], finishedStatus: null }]);
  });

  it('keeps the in-flight token of a preempted request and readmits it once that token is known', () => {
    // 3 usable blocks of 2 tokens: b's growth preempts a (admitted last) while a's token is in flight.
    const s = new Scheduler({ ...base, blockSize: 2, numBlocks: 4, maxNumSeqs: 2, asyncScheduling: true });
    s.addRequest(makeRequest('b', range(0, 3), { maxTokens: 8 }));
    s.addRequest(makeRequest('a', range(10, 2), { maxTokens: 8 }));
    const s0 = s.schedule();
    expect(summary(s0)).toEqual([['b', 0, 3], ['a', 0, 2]]);
    const s1 = s.schedule(); // b needs a block for position 3: a is preempted, its step-0 token in flight
    expect(s1.preempted).toEqual(['a']);
    expect(summary(s1)).toEqual([['b', 3, 1]]);
    s.updateFromOutput(s0, new Map([['b', [1]], ['a', [2]]]));
    expect(s.getRequest('a')!.outputTokenIds).toEqual([2]);
  });
});
