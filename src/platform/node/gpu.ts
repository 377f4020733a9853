import { createRequire } from 'node:module';
import { WgllmError } from '../../core/errors.js';
import type { AcquiredAdapter, AdapterOptions } from '../../core/platform.js';

/**
 * Dawn toggles that unlock what NVIDIA's Vulkan driver can do but Dawn hides by default:
 * - vulkan_enable_f16_on_nvidia: exposes `shader-f16` (off by default on NVIDIA in Dawn);
 * - allow_unsafe_apis: exposes `chromium-experimental-subgroup-matrix` (tensor cores);
 * - timestamp_quantization is disabled so timestamp queries give full-resolution GPU times;
 * - workgroup memory is zero-initialized by Tint's loop rather than the Vulkan extension: same
 *   semantics, but SwiftShader compiles the extension's initializer element by element (seconds
 *   per pipeline with large workgroup tiles), and on GPUs the loop runs once per workgroup.
 */
export const DAWN_TOGGLES = [
  'enable-dawn-features=allow_unsafe_apis,vulkan_enable_f16_on_nvidia',
  'disable-dawn-features=timestamp_quantization,use_vulkan_zero_initialize_workgroup_memory_extension',
];

/**
 * Node only (a browser never offers it): `disable_robustness` drops the bounds clamp Dawn adds to
 * every buffer and workgroup-array access of a shader. The shaders are the package's own, every
 * one bounds-checks what it reads from the data it is given (ids, block tables, shapes), the
 * conformance suite runs them this way, and storage buffers carry a few bytes of slack for the
 * word-straddling weight reads (gpu/buffers.ts). On an H200 the clamps cost up to half of a
 * kernel's speed (tensor-core GEMM 64 -> 128 TFLOP/s at M = 512 without them, same call).
 * WGLLM_ROBUSTNESS=1 keeps them (to rule them out when chasing a fault).
 */
export function nodeDawnToggles(env: Record<string, string | undefined> = process.env): string[] {
  const enable = [DAWN_TOGGLES[0]!];
  if (env.WGLLM_ROBUSTNESS !== '1') enable.push('disable_robustness');
  // WGLLM_DAWN_ENABLE: further Dawn toggles to enable (comma-separated), for experiments.
  if (env.WGLLM_DAWN_ENABLE) enable.push(env.WGLLM_DAWN_ENABLE);
  return [enable.join(','), ...DAWN_TOGGLES.slice(1)];
}

const require = createRequire(import.meta.url);

function dawnVersion(): string {
  try {
    return `dawn-node/webgpu@${(require('webgpu/package.json') as { version: string }).version}`;
  } catch {
    return 'dawn-node/webgpu';
  }
}

// The GPU object must stay referenced while devices from it are alive (see the webgpu package
// notes), and creating it more than once per option set is wasteful: keep one per options key.
const gpus = new Map<string, GPU>();

async function loadDawn(): Promise<{ create: (opts: string[]) => GPU; globals: object }> {
  try {
    return (await import('webgpu')) as unknown as { create: (opts: string[]) => GPU; globals: object };
  } catch (cause) {
    throw new WgllmError(
      'no_webgpu',
      `Could not load Dawn (the 'webgpu' package): ${String((cause as Error)?.message ?? cause)}. ` +
        "Reinstall dependencies with 'npm install'; prebuilt binaries exist for linux-x64, linux-arm64, macOS and Windows.",
      { cause },
    );
  }
}

export function noAdapterMessage(): string {
  const lines = [
    'No WebGPU adapter was found.',
    'wgllm needs a GPU driver that Dawn can use: Vulkan on Linux, Metal on macOS, D3D12 on Windows.',
  ];
  if (process.platform === 'linux') {
    lines.push(
      'On Linux without a GPU, use SwiftShader (a CPU Vulkan; slow, but every kernel runs):',
      '  sudo apt-get install -y chromium libvulkan1',
      '  export VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json',
      'With a GPU, install its Vulkan driver (e.g. nvidia driver, mesa-vulkan-drivers) and libvulkan1.',
    );
  }
  return lines.join('\n');
}

export async function requestNodeAdapter(opts: AdapterOptions = {}): Promise<AcquiredAdapter> {
  const { create, globals } = await loadDawn();
  // Dawn's classes (GPUBufferUsage, GPUShaderStage, ...) as globals, as a browser has them.
  for (const [k, v] of Object.entries(globals)) {
    if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
  }
  const dawnOptions = nodeDawnToggles();
  if (opts.adapterName) dawnOptions.push(`adapter=${opts.adapterName}`);
  const key = dawnOptions.join(' ');
  let gpu = gpus.get(key);
  if (!gpu) {
    try {
      gpu = create(dawnOptions);
    } catch (cause) {
      throw new WgllmError(
        'no_adapter',
        `${noAdapterMessage()}\n(Dawn said: ${String((cause as Error)?.message ?? cause)})` +
          (opts.adapterName ? `\nNo adapter matches '${opts.adapterName}'.` : ''),
        { cause },
      );
    }
    gpus.set(key, gpu);
  }
  const adapter = await gpu.requestAdapter({
    powerPreference: opts.powerPreference ?? 'high-performance',
    ...(opts.allowFallback === false ? {} : {}),
  });
  if (!adapter) throw new WgllmError('no_adapter', noAdapterMessage());
  return { adapter, runtime: dawnVersion(), wgslFeatures: new Set(gpu.wgslLanguageFeatures ?? []) };
}
