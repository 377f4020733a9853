import type { GpuContext } from '../gpu/context.js';
import { readBuffer, uploadBuffer } from '../gpu/buffers.js';
import { WgllmError } from '../core/errors.js';
import { KernelDispatch } from './launch.js';
import { hostTensorBytes, hostTensorFromBytes } from './host-tensors.js';
import type { HostTensors, KernelSpec } from './spec.js';

/**
 * Runs one kernel once on host tensors and returns its outputs: upload every binding, launch,
 * read back the outputs. For conformance tests, the selftest and the tuner's validation; the
 * engine never goes through here.
 */
export async function runKernel<S, C>(
  ctx: GpuContext,
  spec: KernelSpec<S, C>,
  shape: S,
  cfg: C,
  inputs: HostTensors,
): Promise<HostTensors> {
  const buffers: Record<string, GPUBuffer> = {};
  let kd: KernelDispatch<S, C> | undefined;
  try {
    for (const b of spec.bindings(shape)) {
      if (b.kind === 'uniform') continue;
      const t = inputs[b.name];
      if (!t) throw new WgllmError('invalid_argument', `${spec.id}: input '${b.name}' missing`);
      buffers[b.name] = uploadBuffer(ctx, hostTensorBytes(t), `${spec.id}:${b.name}`);
    }
    kd = await KernelDispatch.create(ctx, spec, shape, cfg, buffers);
    const enc = ctx.device.createCommandEncoder({ label: spec.id });
    const pass = enc.beginComputePass();
    kd.encode(pass);
    pass.end();
    ctx.queue.submit([enc.finish()]);
    const out: HostTensors = {};
    for (const name of spec.outputs(shape)) {
      const like = inputs[name]!;
      const bytes = await readBuffer(ctx, buffers[name]!, hostTensorBytes(like).byteLength);
      out[name] = hostTensorFromBytes(bytes, like);
    }
    return out;
  } finally {
    kd?.destroy();
    for (const b of Object.values(buffers)) b.destroy();
  }
}
