import type { ActDType } from '../core/dtype.js';
import { WgllmError } from '../core/errors.js';
import type { ModelLocation, Platform } from '../core/platform.js';
import { acquireGpu } from '../gpu/acquire.js';
import type { GpuContext } from '../gpu/context.js';
import { Sampler } from '../kernels/sampling-sampler.js';
import { openModelFiles } from '../model/open.js';
import { ModelRunner } from '../model/runner.js';
import { Scheduler } from '../scheduler/scheduler.js';
import { TuneCache } from '../tune/cache.js';
import { tunedConfigs, type TunedConfigStats } from '../tune/lazy-configs.js';
import type { TuneProgress } from '../tune/search.js';
import { Engine, type EngineRequestParams } from './engine.js';
import { createChatCompletion } from './openai/chat.js';
import { createCompletion } from './openai/completions.js';
import type { ChatCompletionRequest, CompletionRequest } from './openai/schemas.js';
import type { GenerateOptions } from './types.js';

export type LoadProgress =
  | { phase: 'open'; model: string }
  | { phase: 'upload'; bytesDone: number; bytesTotal: number }
  | { phase: 'tune'; event: TuneProgress }
  | { phase: 'ready'; ms: number };

export interface EngineOptions {
  /** a path (Node), a URL, or a ModelLocation the caller opened */
  model: string | ModelLocation;
  platform: Platform;
  /** an existing device (else one is acquired from the platform) */
  gpu?: GpuContext;
  /** activation dtype; default f16 where the adapter has shader-f16 */
  act?: ActDType;
  /** the context length served (default: the model's, at most 4096) */
  maxModelLen?: number;
  /** requests running at once (default 16) */
  maxNumSeqs?: number;
  /** tokens per step (default 512) */
  maxNumBatchedTokens?: number;
  /** KV cache budget in bytes (default: every sequence at full length, within 1 GiB) */
  kvCacheBytes?: number;
  /** exact number of KV blocks, overriding kvCacheBytes */
  numKvBlocks?: number;
  blockSize?: number;
  enablePrefixCaching?: boolean;
  /**
   * Plan and record step N+1 while the GPU runs step N (default true): the sampled tokens go
   * from step to step on the GPU, so the host's work per step overlaps the GPU's. false: one
   * step at a time (each step waits for the previous step's tokens on the CPU).
   */
  asyncScheduling?: boolean;
  /** 'auto' tunes kernels missing from the tune cache at load (default 'off': defaults for misses) */
  tune?: 'off' | 'auto';
  tuneBudgetMs?: number;
  /** with tune: 'auto', the most time one kernel may take (default 5 s) */
  tunePerKernelMs?: number;
  /**
   * Steps of more than 128 tokens (with maxNumBatchedTokens >= 256) run quantized layers' GEMMs
   * over an f16 copy of each layer's weights (faster on tensor cores; costs one f16 layer of GPU
   * memory, e.g. 235 MB for Llama-3.1-8B). Default true where it applies; false saves that memory.
   */
  prefillDequant?: boolean;
  /** the name the OpenAI API reports (default: the model file or folder name) */
  modelName?: string;
  onProgress?: (p: LoadProgress) => void;
}

/** An Engine with the OpenAI-shaped API on top. */
export class WgllmEngine extends Engine {
  modelName = '';
  tuneStats: TunedConfigStats | undefined;
  loadMs = 0;

  readonly chat = {
    completions: {
      create: (body: ChatCompletionRequest, opts?: GenerateOptions) => createChatCompletion(this, this.modelName, body, opts),
    },
  };

  readonly completions = {
    create: (body: CompletionRequest, opts?: GenerateOptions) => createCompletion(this, this.modelName, body, opts),
  };
}

function baseName(name: string): string {
  return name.replace(/[/\\]+$/, '').split(/[/\\]/).pop() ?? name;
}

/** Loads a model and returns a ready engine: device, weights, KV cache, pipelines, sampler. */
export async function createEngine(opts: EngineOptions): Promise<WgllmEngine> {
  const t0 = performance.now();
  const progress = opts.onProgress ?? (() => undefined);
  const ownsGpu = !opts.gpu;
  const ctx = opts.gpu ?? (await acquireGpu(opts.platform));
  let closeModel: (() => Promise<void>) | undefined;
  try {
    let loc: ModelLocation;
    if (typeof opts.model === 'string') {
      if (!opts.platform.openModel) throw new WgllmError('unsupported', 'this platform cannot open models by name; pass a ModelLocation');
      loc = await opts.platform.openModel(opts.model);
    } else loc = opts.model;
    progress({ phase: 'open', model: loc.name });
    const { model, tokenizer } = await openModelFiles(loc);
    closeModel = () => model.close();
    const cfg = model.config;
    const maxModelLen = Math.min(opts.maxModelLen ?? 4096, cfg.maxPositionEmbeddings);
    const maxNumSeqs = opts.maxNumSeqs ?? 16;
    const maxNumBatchedTokens = opts.maxNumBatchedTokens ?? 512;
    const blockSize = opts.blockSize ?? 16;
    const cache = await TuneCache.open(opts.platform.tuneStore, ctx.info);
    const configs = tunedConfigs(ctx, cache, {
      tune: opts.tune ?? 'off',
      ...(opts.tuneBudgetMs !== undefined ? { budgetMs: opts.tuneBudgetMs } : {}),
      ...(opts.tunePerKernelMs !== undefined ? { perKernelMs: opts.tunePerKernelMs } : {}),
      onProgress: (event) => progress({ phase: 'tune', event }),
    });
    const runner = await ModelRunner.create(ctx, model, {
      ...(opts.act ? { act: opts.act } : {}),
      limits: { maxNumTokens: maxNumBatchedTokens, maxNumSeqs, maxModelLen },
      kv: {
        blockSize,
        ...(opts.numKvBlocks ? { numBlocks: opts.numKvBlocks } : {}),
        ...(opts.kvCacheBytes ? { budgetBytes: opts.kvCacheBytes } : {}),
      },
      configs,
      ...(opts.prefillDequant !== undefined ? { prefillDequant: opts.prefillDequant } : {}),
      onProgress: (bytesDone, bytesTotal) => progress({ phase: 'upload', bytesDone, bytesTotal }),
    });
    // Weights are on the GPU: the file is no longer needed.
    await model.close();
    closeModel = undefined;
    let sampler: Sampler | undefined;
    try {
      const capacity = (runner.numBlocks - 1) * blockSize;
      if (capacity < maxModelLen) {
        throw new WgllmError(
          'out_of_memory',
          `the KV cache holds ${capacity} tokens, less than the context length ${maxModelLen}: give a larger KV budget or a smaller maxModelLen`,
        );
      }
      const scheduler = new Scheduler<EngineRequestParams>({
        maxNumBatchedTokens,
        maxNumSeqs,
        blockSize,
        numBlocks: runner.numBlocks,
        enablePrefixCaching: opts.enablePrefixCaching ?? true,
        maxModelLen,
        asyncScheduling: opts.asyncScheduling ?? true,
      });
      sampler = await Sampler.create(ctx, { act: runner.act, vocabSize: cfg.vocabSize, maxNumSeqs });
      await sampler.bindLogits(runner.logits);
      await sampler.bindFeed(runner.inputIds);
      const eos = [...new Set([...cfg.eosTokenIds, ...(tokenizer.eosTokenId !== undefined ? [tokenizer.eosTokenId] : [])])];
      const engine = new WgllmEngine({
        ctx,
        runner,
        sampler,
        scheduler,
        tokenizer,
        maxModelLen,
        eosTokenIds: eos,
        onDispose: () => {
          if (ownsGpu) ctx.destroy();
        },
      });
      engine.modelName = opts.modelName ?? baseName(loc.name);
      engine.tuneStats = configs.stats;
      engine.loadMs = performance.now() - t0;
      progress({ phase: 'ready', ms: engine.loadMs });
      return engine;
    } catch (e) {
      sampler?.destroy();
      runner.dispose();
      throw e;
    }
  } catch (e) {
    await closeModel?.();
    if (ownsGpu) ctx.destroy();
    throw e;
  }
}
