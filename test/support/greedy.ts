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
  for (const [i, p] of prompts.entries()) {
    const s = seqs[i]!;
    runner.prepare({
      tokenIds: p,
      positions: p.map((_, j) => j),
      seqs: [{ queryLen: p.length, seqLen: p.length, blockIds: s.blockIds }],
      sampleRows: [p.length - 1],
    });
    runner.run();
    s.promptLogits = await runner.readLogits();
    s.out.push(argmax(s.promptLogits, 0, V));
    s.len = p.length;
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
