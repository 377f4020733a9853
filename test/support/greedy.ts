import type { ModelRunner } from '../../src/model/runner.js';

/**
 * Greedy decoding of one sequence straight on the runner (no scheduler): the prompt in one
 * step, then one token per step, with the sequence's blocks taken in order from block 1.
 * Returns the generated ids and the logits after the prompt. For model-correctness tests.
 */
export async function greedyOnRunner(runner: ModelRunner, prompt: number[], maxNewTokens: number, stopAt?: number) {
  const bs = runner.blockSize;
  const need = Math.ceil((prompt.length + maxNewTokens) / bs);
  const blockIds = Array.from({ length: need }, (_, i) => i + 1);
  const out: number[] = [];
  let promptLogits: Float32Array | undefined;
  let tokens = prompt;
  let pos = 0;
  for (let step = 0; step <= maxNewTokens - 1; step++) {
    const seqLen = pos + tokens.length;
    runner.prepare({
      tokenIds: tokens,
      positions: tokens.map((_, i) => pos + i),
      seqs: [{ queryLen: tokens.length, seqLen, blockIds }],
      sampleRows: [tokens.length - 1],
    });
    runner.run();
    const logits = await runner.readLogits();
    promptLogits ??= logits;
    let best = 0;
    for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
    out.push(best);
    if (best === stopAt) break;
    pos = seqLen;
    tokens = [best];
  }
  return { ids: out, promptLogits: promptLogits! };
}
