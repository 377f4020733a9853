import { acquireGpu } from '../../src/gpu/acquire.js';
import type { GpuContext } from '../../src/gpu/context.js';
import { createNodePlatform } from '../../src/platform/node/index.js';

let shared: Promise<GpuContext> | undefined;

/** One device per test file run (Dawn in Node; SwiftShader here unless VK_ICD_FILENAMES says otherwise). */
export function testGpu(): Promise<GpuContext> {
  shared ??= acquireGpu(createNodePlatform());
  return shared;
}
