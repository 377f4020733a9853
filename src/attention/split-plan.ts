/**
 * When to split the keys of a step over several workgroups (split-KV, "flash decoding"), and
 * how finely. A step with few sequences and long contexts launches few workgroups (one per tile
 * and kv head), leaving most of the GPU idle; splitting the key range multiplies them, at the
 * price of a reduce pass and of partials traffic. Pure: the backend calls it per step.
 */
export interface SplitPolicy {
  enabled: boolean;
  /** smallest split, in keys (tunable: bench/attention.ts sweeps it) */
  partitionSize: number;
  /** a launch short of targetWorkgroups also splits until no split is longer than this (keys) */
  maxPartitionSize: number;
  /** most splits (sizes the partials buffer) */
  maxSplits: number;
  /** steps with more tokens never split (sizes the partials buffer) */
  maxTokens: number;
  /** split until the launch has about this many workgroups; one that has half of them never splits */
  targetWorkgroups: number;
}

// Measured on an H200 at steady clocks (bench/attention.ts --tune, Llama-3.1-8B heads, f16 KV,
// the subgroup decode kernel; bench/results/attention-nvidia-h200.json): a launch of about 256
// workgroups (2 per SM) read KV fastest. Batch 32 x 4096 (256 workgroups) read 2688 GB/s
// unsplit against 2013 GB/s cut into 16 splits of 256 keys (the previous policy: split down to
// 256 keys, up to 4096 workgroups); batch 64 x 2048-8192 was fastest unsplit too. Below the
// target, long contexts gained from pieces of at most ~2048 keys (batch 16 x 8192: 2584 GB/s
// with 4 splits of 2048, batch 4 x 32768: 2494 with 16), and short ones from pieces down to
// 64-128 keys (batch 4 x 512: 540 GB/s with 4 splits of 128 against 449 with 2 of 256).
export const DEFAULT_SPLIT_POLICY: SplitPolicy = {
  enabled: true,
  partitionSize: 128,
  maxPartitionSize: 2048,
  maxSplits: 32,
  maxTokens: 64,
  targetWorkgroups: 256,
};

export interface SplitChoice {
  numSplits: number;
  /** keys per split, a multiple of the key tile (0 when not split) */
  partitionSize: number;
}

const NO_SPLIT: SplitChoice = { numSplits: 1, partitionSize: 0 };

export function planSplits(
  p: SplitPolicy,
  step: { numTokens: number; numSeqs: number; maxSeqLen: number },
  numKvHeads: number,
  tile: { tq: number; tk: number },
  /** workgroups of one split when the kernel's grid is not the tiled kernel's (tiles + sequences) x kv heads */
  workgroupsPerSplit?: number,
): SplitChoice {
  if (!p.enabled || step.numTokens === 0 || step.numTokens > p.maxTokens) return NO_SPLIT;
  const workgroups = workgroupsPerSplit ?? (Math.floor(step.numTokens / tile.tq) + step.numSeqs) * numKvHeads;
  if (workgroups * 2 > p.targetWorkgroups) return NO_SPLIT;
  const byLength = Math.floor(step.maxSeqLen / p.partitionSize);
  const byTarget = Math.max(Math.ceil(p.targetWorkgroups / workgroups), Math.ceil(step.maxSeqLen / p.maxPartitionSize));
  const wanted = Math.min(p.maxSplits, byLength, byTarget);
  if (wanted < 2) return NO_SPLIT;
  const partitionSize = Math.ceil(Math.ceil(step.maxSeqLen / wanted) / tile.tk) * tile.tk;
  return { numSplits: Math.ceil(step.maxSeqLen / partitionSize), partitionSize };
}
