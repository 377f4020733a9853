/**
 * One description of a decoder-only transformer, whatever file it came from (HF config.json,
 * GGUF metadata, llama2.c header). Dimension names follow the project's vocabulary.
 */
export type Architecture = 'llama' | 'qwen2' | 'qwen3';

/** How RoPE pairs dimensions: 'normal' rotates (2i, 2i+1) (GGUF llama), 'neox' rotates (i, i + d/2) (HF, Qwen). */
export type RopeStyle = 'normal' | 'neox';

export type RopeScaling =
  | { type: 'none' }
  | { type: 'linear'; factor: number }
  | {
      type: 'llama3';
      factor: number;
      lowFreqFactor: number;
      highFreqFactor: number;
      originalMaxPositionEmbeddings: number;
    };

export interface ModelConfig {
  architecture: Architecture;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  /** per-head width; may differ from hiddenSize / numHeads (Qwen3) */
  headDim: number;
  vocabSize: number;
  maxPositionEmbeddings: number;
  rmsNormEps: number;
  ropeTheta: number;
  ropeStyle: RopeStyle;
  ropeScaling: RopeScaling;
  /** dimensions of each head that are rotated (== headDim unless partial rotary) */
  rotaryDim: number;
  tieWordEmbeddings: boolean;
  /** q/k/v projections carry a bias (Qwen2) */
  attentionBias: boolean;
  /** per-head RMSNorm of q and k before RoPE (Qwen3) */
  qkNorm: boolean;
  /** sliding-window attention width in tokens, if any */
  slidingWindow?: number;
  bosTokenId?: number;
  eosTokenIds: number[];
}
