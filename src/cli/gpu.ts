import { acquireGpu } from '../gpu/acquire.js';
import type { GpuContext } from '../gpu/context.js';
import { createNodePlatform } from '../platform/node/index.js';
import { UsageError } from './args.js';

export async function openGpu(values: { adapter?: string; 'power-preference'?: string; 'no-f16'?: boolean }): Promise<GpuContext> {
  const pp = values['power-preference'];
  if (pp !== undefined && pp !== 'high-performance' && pp !== 'low-power') {
    throw new UsageError(`--power-preference must be high-performance or low-power, not '${pp}'`);
  }
  return acquireGpu(createNodePlatform(), {
    ...(values.adapter ? { adapterName: values.adapter } : {}),
    ...(pp ? { powerPreference: pp } : {}),
    ...(values['no-f16'] ? { disableFeatures: ['shader-f16'] } : {}),
  });
}
