/**
 * Checks shared by every config reader: a ModelConfig that reaches the engine has sane,
 * consistent dimensions, so kernels never see a zero, a fraction or a head count that does not
 * divide. Violations are 'model_format' errors naming the file and the field.
 */
import type { ModelConfig } from '../../core/model-config.js';
import { formatError } from './byte-reader.js';

/**
 * The shortest decimal that rounds to the same f32, so a GGUF's f32 `1e-5` reads back as 1e-5
 * (not 9.999999747378752e-6) and equals the HF config's value exactly. Values that are not f32
 * (true f64 metadata) are returned as they are.
 */
export function cleanF32(v: number): number {
  if (!Number.isFinite(v) || Math.fround(v) !== v) return v;
  for (let p = 1; p <= 9; p++) {
    const c = Number(v.toPrecision(p));
    if (Math.fround(c) === v) return c;
  }
  return v;
}

export function validateConfig(fileName: string, c: ModelConfig): ModelConfig {
  const posInt: (keyof ModelConfig)[] = [
    'hiddenSize', 'intermediateSize', 'numLayers', 'numHeads', 'numKvHeads', 'headDim', 'vocabSize',
    'maxPositionEmbeddings', 'rotaryDim',
  ];
  for (const k of posInt) {
    const v = c[k];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) {
      throw formatError(fileName, `config ${k} = ${String(v)} is not a positive integer`);
    }
  }
  if (c.numHeads % c.numKvHeads !== 0) {
    throw formatError(fileName, `numHeads ${c.numHeads} is not a multiple of numKvHeads ${c.numKvHeads}`);
  }
  if (c.rotaryDim % 2 !== 0 || c.rotaryDim > c.headDim) {
    throw formatError(fileName, `rotaryDim ${c.rotaryDim} must be even and at most headDim ${c.headDim}`);
  }
  if (!(c.rmsNormEps > 0 && c.rmsNormEps < 1)) throw formatError(fileName, `rmsNormEps ${c.rmsNormEps} is out of range`);
  if (!(c.ropeTheta > 1 && Number.isFinite(c.ropeTheta))) throw formatError(fileName, `ropeTheta ${c.ropeTheta} is out of range`);
  const s = c.ropeScaling;
  if (s.type !== 'none' && !(s.factor >= 1 && Number.isFinite(s.factor))) {
    throw formatError(fileName, `rope scaling factor ${s.factor} is out of range`);
  }
  if (s.type === 'llama3' && !(s.highFreqFactor > s.lowFreqFactor && s.originalMaxPositionEmbeddings > 0)) {
    throw formatError(fileName, `llama3 rope scaling parameters are inconsistent: ${JSON.stringify(s)}`);
  }
  if (c.slidingWindow !== undefined && !(Number.isSafeInteger(c.slidingWindow) && c.slidingWindow > 0)) {
    throw formatError(fileName, `slidingWindow ${c.slidingWindow} is not a positive integer`);
  }
  const ids = [...c.eosTokenIds, ...(c.bosTokenId === undefined ? [] : [c.bosTokenId])];
  for (const id of ids) {
    if (!Number.isSafeInteger(id) || id < 0 || id >= c.vocabSize) {
      throw formatError(fileName, `special token id ${id} is outside the vocabulary (${c.vocabSize})`);
    }
  }
  return c;
}
