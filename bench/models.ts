/**
 * Model-correctness report on any adapter: each model's forward pass against the recorded
 * references (transformers float32; for GGUF files, transformers on that file's dequantized
 * weights; and llama.cpp), on the f32 and f16 activation paths. The test suite asserts the f32
 * figures on SwiftShader; this script reports both paths where a GPU has shader-f16.
 *
 *   node bench/dist/models.js --prepare .fixtures         # here: copy a few models + slim references
 *   node bench/dist/models.js --dir .fixtures --out r.json # anywhere (e.g. the GPU machine)
 */
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { ActDType } from '../src/core/dtype.js';
import { acquireGpu } from '../src/gpu/acquire.js';
import { ModelRunner } from '../src/model/runner.js';
import { openModelFiles } from '../src/model/open.js';
import { createNodePlatform, openLocalModel } from '../src/platform/node/index.js';
import { greedyOnRunner } from '../test/support/greedy.js';

interface SlimPrompt {
  name: string;
  ids: number[];
  /** what the engine should reproduce: HF f32 (HF folders) or HF f32 on the GGUF's dequantized weights */
  want: { top5: { ids: number[]; logits: number[] }; greedy: number[] };
  /** llama.cpp's greedy tokens on the same file (GGUF only) */
  llamaCpp?: number[];
}

/** model file (relative to the models dir) -> its slim reference */
type Slim = Record<string, SlimPrompt[]>;

const DEFAULT_SET = [
  'tiny-qwen3/tiny-qwen3-Q8_0.gguf',
  'tiny-llama3/tiny-llama3-Q4_K_M.gguf',
  'tiny-smollm2/tiny-smollm2-Q4_0.gguf',
  'tiny-qwen2/tiny-qwen2-Q8_0.gguf',
];

const { values: args } = parseArgs({
  options: {
    prepare: { type: 'string' },
    dir: { type: 'string', default: '../shared/models' },
    models: { type: 'string' },
    out: { type: 'string' },
    tokens: { type: 'string', default: '32' },
    // off: prompt chunks on the general tiled attention kernel (RunnerOptions.tensorAttention)
    'tensor-attention': { type: 'string', default: 'on' },
  },
});

async function prepare(to: string): Promise<void> {
  const from = args.dir!;
  const slim: Slim = {};
  for (const rel of (args.models ?? DEFAULT_SET.join(',')).split(',')) {
    const [folder, file] = rel.split('/') as [string, string];
    const ref = JSON.parse(await readFile(path.join(from, folder, 'reference.json'), 'utf8'));
    slim[rel] = ref.prompts.map((p: any) => {
      const deq = p.hf_f32_on_dequantized_gguf[file];
      return { name: p.name, ids: p.hf.ids, want: { top5: deq.last_top5, greedy: deq.greedy.ids }, llamaCpp: p.llama_cpp?.[file]?.greedy?.ids };
    });
    await mkdir(path.join(to, folder), { recursive: true });
    await copyFile(path.join(from, rel), path.join(to, rel));
  }
  await writeFile(path.join(to, 'slim-references.json'), JSON.stringify(slim));
  console.log(`prepared ${Object.keys(slim).length} models in ${to}`);
}

function commonPrefix(a: readonly number[], b: readonly number[]): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

async function run(): Promise<void> {
  const dir = args.dir!;
  const slim: Slim = JSON.parse(await readFile(path.join(dir, 'slim-references.json'), 'utf8'));
  const gpu = await acquireGpu(createNodePlatform());
  const acts: ActDType[] = gpu.info.features.f16 ? ['f32', 'f16'] : ['f32'];
  const n = Number(args.tokens);
  const rows = [];
  for (const [rel, prompts] of Object.entries(slim)) {
    for (const act of acts) {
      const { model } = await openModelFiles(await openLocalModel(path.join(dir, rel)));
      const runner = await ModelRunner.create(gpu, model, { act, limits: { maxNumTokens: 1024, maxNumSeqs: 8, maxModelLen: 512 }, tensorAttention: args['tensor-attention'] !== 'off' });
      const t0 = performance.now();
      const got = await greedyOnRunner(runner, prompts.map((p) => p.ids), n);
      const ms = performance.now() - t0;
      let maxTop5Diff = 0;
      let greedyEqual = 0;
      let prefixSum = 0;
      let llamaPrefixSum = 0;
      prompts.forEach((p, i) => {
        const g = got[i]!;
        for (let k = 0; k < p.want.top5.ids.length; k++) {
          maxTop5Diff = Math.max(maxTop5Diff, Math.abs(g.promptLogits[p.want.top5.ids[k]!]! - p.want.top5.logits[k]!));
        }
        const prefix = commonPrefix(g.ids, p.want.greedy.slice(0, n));
        prefixSum += prefix;
        if (prefix === n) greedyEqual++;
        if (p.llamaCpp) llamaPrefixSum += commonPrefix(g.ids, p.llamaCpp.slice(0, n));
      });
      const row = {
        model: rel,
        act,
        prompts: prompts.length,
        maxTop5LastLogitDiff: maxTop5Diff,
        greedyEqualToReference: `${greedyEqual}/${prompts.length}`,
        meanCommonPrefixWithReference: prefixSum / prompts.length,
        meanCommonPrefixWithLlamaCpp: llamaPrefixSum / prompts.length,
        ms: Math.round(ms),
      };
      console.log(JSON.stringify(row));
      rows.push(row);
      runner.dispose();
      await model.close();
    }
  }
  const out = { device: gpu.info, tokens: n, rows };
  if (args.out) await writeFile(args.out, JSON.stringify(out, null, 2));
  gpu.destroy();
}

if (args.prepare) await prepare(args.prepare);
else await run();
