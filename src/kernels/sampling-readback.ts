import { WgllmError } from '../core/errors.js';
import type { GpuContext } from '../gpu/context.js';
import { GPUBufferUsageConst, GPUMapModeConst } from '../gpu/constants.js';
import { LP_STRIDE } from './sampling-layout.js';

/** Logprobs of one sampled row (raw model logprobs; see core/sampling-params.ts). */
export interface RowLogprobs {
  /** log-softmax of the raw logits at the chosen token */
  logprob: number;
  /** 1 + number of other tokens whose raw logit is >= the chosen one's (vLLM's rank) */
  rank: number;
  /** top-n ids by raw logit, ties to the lowest id (n = the request's logprobs) */
  topIds: Uint32Array;
  topLogprobs: Float32Array;
}

export interface SampleResult {
  /** [numRows] sampled token ids, in the step's row order */
  tokenIds: Uint32Array;
  /** per row: undefined where the request did not ask for logprobs */
  logprobs: (RowLogprobs | undefined)[];
}

/** The device buffers a readback copies from (owned by the Sampler). */
export interface SampleOutputs {
  tokenIds: GPUBuffer; // [maxNumSeqs] u32
  lpValues: GPUBuffer; // [maxNumSeqs, LP_STRIDE] f32
  lpIds: GPUBuffer; // [maxNumSeqs, LP_STRIDE] u32
}

/**
 * One staging buffer of a ring: `encode` records the copies of one step's outputs, `read` maps it
 * and decodes. The step's row count and per-row logprobs counts are captured at encode time, so
 * the CPU can read step s while step s+1 is already queued.
 */
export class SampleReadback {
  private state: 'free' | 'encoded' | 'reading' = 'free';
  private numRows = 0;
  private anyLogprobs = false;
  /** [maxNumSeqs] logprobs count per row of the captured step; -1 = none */
  private readonly tops: Int32Array;
  private readonly staging: GPUBuffer; // [tokenIds | lpValues | lpIds] bytes, maxNumSeqs rows each

  constructor(
    private readonly ctx: GpuContext,
    private readonly maxNumSeqs: number,
    label: string,
  ) {
    this.tops = new Int32Array(maxNumSeqs);
    this.staging = ctx.device.createBuffer({
      label,
      size: maxNumSeqs * 4 * (1 + 2 * LP_STRIDE),
      usage: GPUBufferUsageConst.MAP_READ | GPUBufferUsageConst.COPY_DST,
    });
  }

  get free(): boolean {
    return this.state === 'free';
  }

  encode(enc: GPUCommandEncoder, out: SampleOutputs, numRows: number, tops: Int32Array): void {
    if (this.state !== 'free') throw new WgllmError('internal', 'sampler readback slot reused before it was read');
    this.state = 'encoded';
    this.numRows = numRows;
    this.tops.set(tops.subarray(0, numRows));
    this.anyLogprobs = false;
    for (let r = 0; r < numRows; r++) if (tops[r]! >= 0) this.anyLogprobs = true;
    if (numRows === 0) return;
    enc.copyBufferToBuffer(out.tokenIds, 0, this.staging, 0, numRows * 4);
    if (this.anyLogprobs) {
      const lpBytes = numRows * LP_STRIDE * 4;
      enc.copyBufferToBuffer(out.lpValues, 0, this.staging, this.maxNumSeqs * 4, lpBytes);
      enc.copyBufferToBuffer(out.lpIds, 0, this.staging, this.maxNumSeqs * 4 * (1 + LP_STRIDE), lpBytes);
    }
  }

  /** Waits for the GPU, decodes, and frees the slot. Call after the encoder was submitted. */
  async read(): Promise<SampleResult> {
    if (this.state !== 'encoded') throw new WgllmError('internal', 'sampler readback read twice or never encoded');
    this.state = 'reading';
    const n = this.numRows;
    try {
      const result: SampleResult = { tokenIds: new Uint32Array(n), logprobs: new Array(n).fill(undefined) };
      if (n === 0) return result;
      await this.staging.mapAsync(GPUMapModeConst.READ);
      const bytes = this.staging.getMappedRange();
      result.tokenIds.set(new Uint32Array(bytes, 0, n));
      if (this.anyLogprobs) {
        const values = new Float32Array(bytes, this.maxNumSeqs * 4, n * LP_STRIDE);
        const ids = new Uint32Array(bytes, this.maxNumSeqs * 4 * (1 + LP_STRIDE), n * LP_STRIDE);
        for (let r = 0; r < n; r++) {
          const k = this.tops[r]!;
          if (k < 0) continue;
          const o = r * LP_STRIDE;
          result.logprobs[r] = {
            logprob: values[o]!,
            rank: ids[o]!,
            topIds: ids.slice(o + 1, o + 1 + k),
            topLogprobs: values.slice(o + 1, o + 1 + k),
          };
        }
      }
      this.staging.unmap();
      return result;
    } finally {
      this.state = 'free';
    }
  }

  destroy(): void {
    this.staging.destroy();
  }
}
