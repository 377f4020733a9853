import { create, globals } from 'webgpu';
import { createGpuContext, type GpuContext } from '../../src/gpu/context.js';
import { DAWN_TOGGLES } from '../../src/platform/node/index.js';

/**
 * A test device like test/support/gpu.ts's, plus one Dawn toggle: workgroup memory is
 * zero-initialized by Tint's loop instead of VK_KHR_zero_initialize_workgroup_memory. Same
 * semantics; but SwiftShader compiles the extension's initializer element by element, which
 * costs ~5 s per attention pipeline (its workgroup tiles are large) against ~0.3 s this way.
 */
let shared: Promise<GpuContext> | undefined;

export function attentionTestGpu(): Promise<GpuContext> {
  shared ??= (async () => {
    for (const [k, v] of Object.entries(globals)) {
      if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
    }
    const zeroInit = 'use_vulkan_zero_initialize_workgroup_memory_extension';
    const toggles = DAWN_TOGGLES.map((t) => (t.startsWith('disable-dawn-features=') ? `${t},${zeroInit}` : t));
    if (!toggles.some((t) => t.includes(zeroInit))) toggles.push(`disable-dawn-features=${zeroInit}`);
    const gpu = create(toggles);
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) throw new Error('no WebGPU adapter (is VK_ICD_FILENAMES set?)');
    // Keep the GPU object alive as long as the device (see the webgpu package notes).
    (globalThis as Record<string, unknown>).__attentionTestGpu = gpu;
    return createGpuContext({ adapter, runtime: 'dawn-node (attention tests)' });
  })();
  return shared;
}
