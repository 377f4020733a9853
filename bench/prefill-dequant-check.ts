/**
 * A prompt step's logits with the quantized layers' prefill GEMMs over an f16 copy of W
 * (RunnerOptions.prefillDequant) against the GEMMs that decode the blocks themselves, on the same
 * model, prompt and device: the two must agree to f16 rounding. Where the adapter has no
 * tensor-core GEMM the copy is never made, and the check says so. Exits 1 when the logits differ
 * (beyond 1% of the largest, or in their argmax), or are all zero or not finite (a step that did
 * not compute, or a model whose activations overflow f16: no check at all).
 *
 *   node bench/build.mjs bench/prefill-dequant-check.ts
 *   node bench/dist/prefill-dequant-check.js --model PATH [--tokens 300,512]
 */
import { parseArgs } from 'node:util';
import { acquireGpu } from '../src/gpu/acquire.js';
import { openModelFiles } from '../src/model/open.js';
import { ModelRunner } from '../src/model/runner.js';
import { createNodePlatform, openLocalModel } from '../src/platform/node/index.js';
import { randomIds } from './engine-steps.js';

process.env.XDG_RUNTIME_DIR ??= '/tmp';
const { values: args } = parseArgs({ options: { model: { type: 'string' }, tokens: { type: 'string', default: '300,512' } } });
if (!args.model) throw new Error('--model PATH is required');
const lens = args.tokens!.split(',').map(Number);
const gpu = await acquireGpu(createNodePlatform());
const maxLen = Math.max(...lens);

async function logits(prefillDequant: boolean, len: number): Promise<{ logits: Float32Array; scratch: boolean }> {
  const { model } = await openModelFiles(await openLocalModel(args.model!));
  const runner = await ModelRunner.create(gpu, model, {
    limits: { maxNumTokens: maxLen, maxNumSeqs: 1, maxModelLen: maxLen + 16 },
    kv: { numBlocks: 2 + Math.ceil((maxLen + 16) / 16), blockSize: 16 },
    prefillDequant,
  });
  await model.close();
  try {
    runner.prepare({
      tokenIds: randomIds(len, runner.config.vocabSize, 7 + len),
      positions: Array.from({ length: len }, (_, i) => i),
      seqs: [{ queryLen: len, seqLen: len, blockIds: Array.from({ length: Math.ceil(len / 16) }, (_, j) => 1 + j) }],
      sampleRows: [len - 1],
    });
    runner.run();
    // whether the runner built the f16 copy of W (bench only: not API)
    const scratch = Boolean((runner as unknown as { k: { wF16?: { made: GPUBuffer | undefined } } }).k.wF16?.made);
    const logits = await runner.readLogits();
    return { logits, scratch };
  } finally {
    runner.dispose();
  }
}

for (const len of lens) {
  const off = await logits(false, len);
  const on = await logits(true, len);
  let maxDiff = 0;
  let maxAbs = 0;
  let argOff = 0;
  let argOn = 0;
  for (let i = 0; i < off.logits.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(off.logits[i]! - on.logits[i]!));
    maxAbs = Math.max(maxAbs, Math.abs(off.logits[i]!));
    if (off.logits[i]! > off.logits[argOff]!) argOff = i;
    if (on.logits[i]! > on.logits[argOn]!) argOn = i;
  }
  const finite = (a: Float32Array) => a.every(Number.isFinite);
  console.log(
    JSON.stringify({
      model: args.model,
      tokens: len,
      f16Copy: on.scratch,
      maxAbsLogit: maxAbs,
      maxAbsDiff: maxDiff,
      relToMaxLogit: maxAbs > 0 ? maxDiff / maxAbs : null,
      argmaxEqual: argOff === argOn,
      finite: finite(off.logits) && finite(on.logits),
    }),
  );
  // logits that are all zero or not finite mean the step did not compute (or overflowed): no check
  if (!(maxAbs > 0) || !finite(off.logits) || !finite(on.logits)) process.exitCode = 1;
  else if (maxDiff / maxAbs > 1e-2 || argOff !== argOn) process.exitCode = 1;
}
gpu.destroy();
