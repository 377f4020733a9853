import type { ModelRunner } from '../../src/model/runner.js';

/** Dispatches the runner records for its prepared step (a pass that only counts). */
export function countDispatches(runner: ModelRunner): number {
  let n = 0;
  const pass = new Proxy({} as GPUComputePassEncoder, {
    get: (_t, key) => (String(key).startsWith('dispatch') ? () => n++ : () => undefined),
  });
  runner.encode(pass);
  return n;
}
