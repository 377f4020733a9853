import { WgllmError } from '../core/errors.js';
import { hashString } from '../core/hash.js';

/** How a kernel's resources are bound: one bind group (group 0), explicit binding numbers. */
export type BindingKind = 'storage-read' | 'storage' | 'uniform';
export interface BindingSlot {
  binding: number;
  kind: BindingKind;
}

export interface PipelineRequest {
  /** complete WGSL text */
  source: string;
  entryPoint: string;
  /** values of WGSL `override` constants */
  constants: Readonly<Record<string, number>>;
  /** the bindings of @group(0) that the entry point uses */
  bindings: readonly BindingSlot[];
  label?: string;
}

export interface CachedPipeline {
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
  key: string;
}

/**
 * One compiled pipeline per (WGSL source, entry point, override constants). Creation is
 * asynchronous (createComputePipelineAsync) so that compiling ahead of use never blocks a step.
 * Owned by a GpuContext: it is dropped with its device and never shared across engines.
 */
export class PipelineCache {
  private readonly modules = new Map<string, GPUShaderModule>();
  private readonly layouts = new Map<string, GPUBindGroupLayout>();
  private readonly pipelines = new Map<string, Promise<CachedPipeline>>();
  /** number of pipelines actually compiled (not cache hits) */
  compiled = 0;

  constructor(private readonly device: GPUDevice) {}

  static key(req: PipelineRequest): string {
    const consts = Object.keys(req.constants)
      .sort()
      .map((k) => `${k}=${req.constants[k]}`)
      .join(',');
    return `${hashString(req.source)}|${req.entryPoint}|${consts}|${slotsKey(req.bindings)}`;
  }

  get size(): number {
    return this.pipelines.size;
  }

  get(req: PipelineRequest): Promise<CachedPipeline> {
    const key = PipelineCache.key(req);
    let p = this.pipelines.get(key);
    if (!p) {
      p = this.create(req, key);
      // A failed compile is not cached: the caller sees the error and may retry another config.
      p.catch(() => this.pipelines.delete(key));
      this.pipelines.set(key, p);
    }
    return p;
  }

  bindGroupLayout(bindings: readonly BindingSlot[]): GPUBindGroupLayout {
    const key = slotsKey(bindings);
    let layout = this.layouts.get(key);
    if (!layout) {
      layout = this.device.createBindGroupLayout({
        label: `layout:${key}`,
        entries: bindings.map(({ kind, binding }) => ({
          binding,
          visibility: 4, // GPUShaderStage.COMPUTE
          buffer: { type: kind === 'uniform' ? 'uniform' : kind === 'storage' ? 'storage' : 'read-only-storage' },
        })),
      });
      this.layouts.set(key, layout);
    }
    return layout;
  }

  private module(source: string, label: string): GPUShaderModule {
    const h = hashString(source);
    let m = this.modules.get(h);
    if (!m) {
      m = this.device.createShaderModule({ code: source, label });
      this.modules.set(h, m);
    }
    return m;
  }

  private async create(req: PipelineRequest, key: string): Promise<CachedPipeline> {
    const label = req.label ?? req.entryPoint;
    const module = this.module(req.source, label);
    const layout = this.bindGroupLayout(req.bindings);
    try {
      const pipeline = await this.device.createComputePipelineAsync({
        label,
        layout: this.device.createPipelineLayout({ bindGroupLayouts: [layout] }),
        compute: { module, entryPoint: req.entryPoint, constants: { ...req.constants } },
      });
      this.compiled++;
      return { pipeline, layout, key };
    } catch (cause) {
      const info = await module.getCompilationInfo().catch(() => undefined);
      const messages = (info?.messages ?? [])
        .filter((m) => m.type === 'error')
        .map((m) => `  line ${m.lineNum}:${m.linePos}: ${m.message}`)
        .join('\n');
      throw new WgllmError(
        'shader_compile',
        `Pipeline '${label}' failed to build (${String((cause as Error)?.message ?? cause)})` +
          (messages ? `:\n${messages}` : '') +
          `\nconstants: ${JSON.stringify(req.constants)}`,
        { cause },
      );
    }
  }
}

function slotsKey(slots: readonly BindingSlot[]): string {
  return slots.map((s) => `${s.binding}:${s.kind}`).join(',');
}
