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
  /** most splits (sizes the partials buffer) */
  maxSplits: number;
  /** steps with more tokens never split (sizes the partials buffer) */
  maxTokens: number;
  /** split until the launch has about this many workgroups (a few per compute unit) */
  targetWorkgroups: number;
}

// Measured on an H200 (bench/attention.ts --tune, Llama-3.1-8B heads, f16; see
// bench/results/attention-nvidia-h200.json): decode read KV fastest when split down to 256-1024
// keys per workgroup even at batch 64 (more workgroups in flight hide the per-tile latency), and
// a single short sequence gained most from small splits. So: split eagerly, 256 keys at least.
export const DEFAULT_SPLIT_POLICY: SplitPolicy = {
  enabled: true,
  partitionSize: 256,
  maxSplits: 32,
  maxTokens: 64,
  targetWorkgroups: 4096,
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
  const wanted = Math.min(p.maxSplits, byLength, Math.ceil(p.targetWorkgroups / workgroups));
  if (wanted < 2) return NO_SPLIT;
  const partitionSize = Math.ceil(Math.ceil(step.maxSeqLen / wanted) / tile.tk) * tile.tk;
  return { numSplits: Math.ceil(step.maxSeqLen / partitionSize), partitionSize };
}
