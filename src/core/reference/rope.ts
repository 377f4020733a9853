import type { ModelConfig, RopeScaling, RopeStyle } from '../model-config.js';

/**
 * Rotary position embedding. The frequency schedule (including Llama-3 and linear scaling) is
 * computed here, on the CPU, once per model, into a cos/sin table that the GPU kernel reads by
 * position: the kernel then never evaluates sin/cos of large angles, whose accuracy GPUs do not
 * promise outside [-pi, pi]. Angles are formed as f32 products like the reference implementation
 * (HF transformers) does, and cos/sin are taken in f64 and rounded once.
 */

/** inverse frequencies [rotaryDim / 2] (f32 values), after scaling */
export function ropeInvFreq(rotaryDim: number, theta: number, scaling: RopeScaling): Float32Array {
  const half = rotaryDim / 2;
  const inv = new Float32Array(half);
  for (let i = 0; i < half; i++) inv[i] = 1 / theta ** ((2 * i) / rotaryDim);
  if (scaling.type === 'linear') {
    for (let i = 0; i < half; i++) inv[i] = inv[i]! / scaling.factor;
  } else if (scaling.type === 'llama3') {
    // Llama 3.1: long wavelengths are divided by `factor`, short ones kept, a smooth ramp between.
    const { factor, lowFreqFactor, highFreqFactor, originalMaxPositionEmbeddings: oldCtx } = scaling;
    const lowFreqWavelen = oldCtx / lowFreqFactor;
    const highFreqWavelen = oldCtx / highFreqFactor;
    for (let i = 0; i < half; i++) {
      const f = inv[i]!;
      const wavelen = (2 * Math.PI) / f;
      if (wavelen > lowFreqWavelen) inv[i] = f / factor;
      else if (wavelen >= highFreqWavelen) {
        const smooth = (oldCtx / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
        inv[i] = (1 - smooth) * (f / factor) + smooth * f;
      }
    }
  }
  return inv;
}

/** cos/sin table [numPositions, rotaryDim / 2, 2] f32: (cos, sin) of position * invFreq[i] */
export function ropeCosSin(invFreq: Float32Array, numPositions: number): Float32Array {
  const half = invFreq.length;
  const table = new Float32Array(numPositions * half * 2);
  for (let p = 0; p < numPositions; p++) {
    for (let i = 0; i < half; i++) {
      const angle = Math.fround(p * invFreq[i]!);
      table[(p * half + i) * 2] = Math.cos(angle);
      table[(p * half + i) * 2 + 1] = Math.sin(angle);
    }
  }
  return table;
}

export function ropeCosSinForModel(cfg: ModelConfig, numPositions: number): Float32Array {
  return ropeCosSin(ropeInvFreq(cfg.rotaryDim, cfg.ropeTheta, cfg.ropeScaling), numPositions);
}

export interface RopeLayout {
  numTokens: number;
  /** heads rotated per token */
  numHeads: number;
  headDim: number;
  rotaryDim: number;
  /** elements from one token's first rotated head to the next token's */
  tokenStride: number;
  style: RopeStyle;
}

/**
 * Rotates x in place-style (returns a copy): x[t * tokenStride + h * headDim + d].
 * 'normal' pairs (2i, 2i+1); 'neox' pairs (i, i + rotaryDim/2). Dims past rotaryDim are kept.
 */
export function ropeRef(
  x: Float32Array,
  positions: Uint32Array,
  cosSin: Float32Array,
  l: RopeLayout,
  round: (v: number) => number = Math.fround,
): Float32Array {
  const out = Float32Array.from(x);
  const half = l.rotaryDim / 2;
  for (let t = 0; t < l.numTokens; t++) {
    const p = positions[t]!;
    for (let h = 0; h < l.numHeads; h++) {
      const base = t * l.tokenStride + h * l.headDim;
      for (let i = 0; i < half; i++) {
        const c = cosSin[(p * half + i) * 2]!;
        const s = cosSin[(p * half + i) * 2 + 1]!;
        const [a, b] = l.style === 'normal' ? [base + 2 * i, base + 2 * i + 1] : [base + i, base + i + half];
        const x0 = x[a]!;
        const x1 = x[b]!;
        out[a] = round(x0 * c - x1 * s);
        out[b] = round(x0 * s + x1 * c);
      }
    }
  }
  return out;
}
