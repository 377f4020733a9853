import type { ModelRunner } from '../../src/model/runner.js';

function argmax(a: Float32Array, from: number, len: number): number {
  let best = 0;
  for (let i = 1; i < len; i++) if (a[from + i]! > a[from + best]!) best = i;
  return best;
}

/**
 * Greedy decoding straight on the runner (no scheduler, no sampler): each prompt prefilled in a
 * step of its own, then every sequence decoded together, one token per step; each sequence
 * owns a disjoint run of blocks. Returns each sequence's new ids and its logits after the prompt.
 * For model-correctness tests against recorded references.
 */
export async function greedyOnRunner(runner: ModelRunner, prompts: number[][], maxNewTokens: number) {
  const V = runner.config.vocabSize;
  const bs = runner.blockSize;
  let next = 1;
  const seqs = prompts.map((p) => {
    const n = Math.ceil((p.length + maxNewTokens) / bs);
    const blockIds = Array.from({ length: n }, (_, i) => next + i);
    next += n;
    return { blockIds, len: 0, out: [] as number[], promptLogits: new Float32Array(0) };
  });
  if (next > runner.numBlocks) throw new Error(`greedyOnRunner needs ${next} blocks, the cache has ${runner.numBlocks}`);
  // Prefill: as many whole prompts per step as the runner's token budget allows.
  for (let i = 0; i < prompts.length; ) {
    const batch: number[] = [];
    let tokens = 0;
    while (i < prompts.length && (batch.length === 0 || tokens + prompts[i]!.length <= runner.limits.maxNumTokens)) {
      tokens += prompts[i]!.length;
      batch.push(i++);
    }
    const tokenIds: number[] = [];
    const positions: number[] = [];
    const sampleRows: number[] = [];
    for (const b of batch) {
      const p = prompts[b]!;
      p.forEach((t, j) => (tokenIds.push(t), positions.push(j)));
      sampleRows.push(tokenIds.length - 1);
    }
    runner.prepare({
      tokenIds,
      positions,
      seqs: batch.map((b) => ({ queryLen: prompts[b]!.length, seqLen: prompts[b]!.length, blockIds: seqs[b]!.blockIds })),
      sampleRows,
    });
    runner.run();
    const logits = await runner.readLogits();
    batch.forEach((b, r) => {
      const s = seqs[b]!;
      s.promptLogits = logits.slice(r * V, (r + 1) * V);
      s.out.push(argmax(s.promptLogits, 0, V));
      s.len = prompts[b]!.length;
    });
  }
  for (let step = 1; step < maxNewTokens; step++) {
    runner.prepare({
      tokenIds: seqs.map((s) => s.out.at(-1)!),
      positions: seqs.map((s) => s.len),
      seqs: seqs.map((s) => ({ queryLen: 1, seqLen: s.len + 1, blockIds: s.blockIds })),
      sampleRows: seqs.map((_, i) => i),
    });
    runner.run();
    const logits = await runner.readLogits();
    seqs.forEach((s, i) => {
      s.out.push(argmax(logits, i * V, V));
      s.len++;
    });
  }
  return seqs.map((s) => ({ ids: s.out, promptLogits: s.promptLogits }));
}
