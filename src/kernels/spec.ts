import type { ActDType } from '../core/dtype.js';
import type { BindingKind } from '../gpu/pipeline-cache.js';
import type { UniformLayout } from '../gpu/uniforms.js';
import type { DeviceInfo } from '../gpu/device-info.js';

/**
 * Host-side tensors, used for kernel inputs/outputs in tests, the selftest and the tuner.
 * 'f16' tensors hold f16-representable values in a Float32Array; they are converted to f16
 * bits on upload and back on readback. 'bytes' is raw storage (e.g. quantized GGUF blocks).
 */
export type HostDType = 'f32' | 'f16' | 'u32' | 'i32' | 'bytes';
export interface HostTensor {
  dtype: HostDType;
  shape: number[];
  data: Float32Array | Uint32Array | Int32Array | Uint8Array;
}
export type HostTensors = Record<string, HostTensor>;

export interface BindingDecl {
  name: string;
  /** @binding(n) in group 0 */
  binding: number;
  kind: BindingKind;
  /**
   * the kernel's own working memory (e.g. split-K's partial sums): the launcher allocates it,
   * sized by KernelSpec.scratchBytes, and callers pass no buffer for it
   */
  scratch?: boolean;
}

export interface Tolerance {
  atol: number;
  rtol: number;
}

/**
 * What one (shape, config) compiles to. It must depend only on the static parts of the shape
 * (dtypes, widths), never on per-step sizes such as numTokens, so one pipeline serves every step.
 */
export interface KernelProgram {
  /** complete WGSL text, prelude included */
  source: string;
  entryPoint: string;
  /** WGSL override constants */
  constants: Record<string, number>;
  /**
   * optional: a second entry point of the same module, dispatched right after `entryPoint` in
   * the same pass with the same bindings (split-K: the sum of the partial tiles). Within a pass,
   * WebGPU orders the two dispatches' storage accesses, so the second sees the first's writes.
   */
  then?: string;
}

/** How one launch is sized: cheap to compute, called per step. */
export interface KernelLaunch {
  grid: [number, number, number];
  /** values for the uniform struct declared by the spec */
  uniforms: Record<string, number>;
  /** the grid of the program's `then` entry point (required when it has one) */
  thenGrid?: [number, number, number];
}

/**
 * The contract every kernel family implements. The tuner, the selftest and the model see only
 * this: they never look inside a kernel. `Shape` is the problem (dims + dtypes); `Config` is a
 * point of the tunable space.
 */
export interface KernelSpec<Shape, Config> {
  /** stable id, e.g. 'rmsnorm', 'rope'; the tune cache keys by it */
  readonly id: string;
  /** the WGSL files the kernel is built from (hashed into the tune key) */
  readonly sources: readonly string[];
  /** the bindings of group 0 that this shape's entry point uses (exactly one is the uniform 'params') */
  bindings(shape: Shape): readonly BindingDecl[];
  readonly uniforms: UniformLayout;
  /** reasons this shape cannot run on this device; [] = it can */
  supports(shape: Shape, dev: DeviceInfo): string[];
  /** tunable candidates that this device can run for this shape */
  space(shape: Shape, dev: DeviceInfo): Config[];
  defaultConfig(shape: Shape, dev: DeviceInfo): Config;
  build(shape: Shape, cfg: Config, dev: DeviceInfo): KernelProgram;
  dispatch(shape: Shape, cfg: Config, dev: DeviceInfo): KernelLaunch;
  /** dtypes + shape bucket: the tune cache's problem key */
  problemKey(shape: Shape): string;
  /** names of bindings whose contents the kernel writes (read back by tests) */
  outputs(shape: Shape): readonly string[];
  /** random inputs (and initial outputs) for conformance runs and tuning */
  makeInputs(shape: Shape, seed: number): HostTensors;
  /** CPU truth for the outputs, from core/reference */
  reference(inputs: HostTensors, shape: Shape): HostTensors;
  tolerance(shape: Shape): Tolerance;
  /**
   * optional: checks the outputs that no tolerance fits and that reference() therefore leaves out
   * (x quantized to packed int8 words, where one ulp of an input moves a whole block), against
   * the kernel's own tolerance-checked outputs in `got`. Returns what is wrong, or undefined.
   */
  checkDerived?(got: HostTensors, shape: Shape): string | undefined;
  /** optional: bytes each scratch binding needs at this shape and config (absent or 0: unused, it gets a minimal buffer) */
  scratchBytes?(shape: Shape, cfg: Config): Record<string, number>;
  /** optional: a smaller shape with the same program (same build() output) on which the tuner checks candidates against the CPU reference; default: the shape itself */
  validationShape?(shape: Shape): Shape;
}

/** A spec with its type parameters erased, for registries and generic runners. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyKernelSpec = KernelSpec<any, any>;

/** Shapes that every activation-typed kernel shares. */
export interface ActShape {
  act: ActDType;
}

export const TOLERANCE: Record<ActDType, Tolerance> = {
  f32: { atol: 1e-5, rtol: 1e-5 },
  // f16 storage rounds each output to 11 significant bits (relative 2^-11 ~ 4.9e-4).
  f16: { atol: 1e-3, rtol: 2e-3 },
};
