import type { GpuContext } from '../../src/gpu/context.js';
import { testGpu } from '../support/gpu.js';

/** The attention tests' device: the shared test device (its Dawn toggles already avoid the slow
 * workgroup zero-init path of SwiftShader; see DAWN_TOGGLES). */
export function attentionTestGpu(): Promise<GpuContext> {
  return testGpu();
}
