import { readFile } from 'node:fs/promises';
import type { Readable, Writable } from 'node:stream';
import type { ActDType } from '../../core/dtype.js';
import { createEngine, type EngineOptions, type LoadProgress, type WgllmEngine } from '../../engine/create.js';
import { classifyModelRef, resolveModelRef, type DownloadProgress } from '../../platform/node/hf-hub.js';
import { createNodePlatform } from '../../platform/node/index.js';
import { engineView, type EngineView } from '../../server/engine-view.js';
import { GPU_OPTIONS, GPU_OPTIONS_HELP, parse, UsageError } from '../args.js';
import { openGpu } from '../gpu.js';

/** Where a command reads and writes (process streams; tests pass their own). */
export interface CliIo {
  stdin: Readable & { isTTY?: boolean };
  stdout: Writable;
  stderr: Writable & { isTTY?: boolean };
}
export const processIo = (): CliIo => ({ stdin: process.stdin, stdout: process.stdout, stderr: process.stderr });

/** Options of every command that loads a model (run, chat, serve). */
export const MODEL_OPTIONS = {
  ...GPU_OPTIONS,
  model: { type: 'string', short: 'm' },
  revision: { type: 'string' },
  offline: { type: 'boolean' },
  'max-model-len': { type: 'string' },
  'max-num-seqs': { type: 'string' },
  'max-num-batched-tokens': { type: 'string' },
  'kv-cache-memory': { type: 'string' },
  act: { type: 'string' },
  tune: { type: 'string' },
  'chat-template': { type: 'string' },
  quiet: { type: 'boolean', short: 'q' },
} as const;

export const MODEL_OPTIONS_HELP = `Model options:
  --model, -m M             a .gguf or llama2.c .bin file, a Hugging Face model folder, or a Hub id:
                            org/name, org/name:Q4_K_M (a GGUF by quant tag), org/name/file.gguf.
                            Hub models are downloaded (resumable) into the HF cache
                            ($HF_HUB_CACHE or $HF_HOME/hub, default ~/.cache/huggingface/hub) and
                            reused from there, by wgllm and by other tools
  --revision REV            branch, tag or commit of a Hub id (default main; also org/name@REV)
  --offline                 only the local HF cache, never the network (same as HF_HUB_OFFLINE=1)
  --max-model-len N         context length (default: the model's, at most 4096)
  --max-num-seqs N          requests decoded together (default 16)
  --max-num-batched-tokens N  tokens per step, prompt chunks included (default 512)
  --kv-cache-memory SIZE    KV cache budget, e.g. 512MiB or 2GiB (default: every sequence at full length, up to 1 GiB)
  --act f16|f32             activation dtype (default f16 where the adapter has shader-f16)
  --tune off|auto           auto: tune kernels missing from the tune cache while loading (default off)
  --chat-template T         a Jinja chat template (a file, or the template text) instead of the model's
  --quiet, -q               no progress on stderr
Environment: HF_TOKEN (gated or private repos), HF_ENDPOINT, HF_HUB_OFFLINE, HF_HOME, HF_HUB_CACHE.
${GPU_OPTIONS_HELP}`;

export const SAMPLING_OPTIONS = {
  'max-tokens': { type: 'string', short: 'n' },
  temperature: { type: 'string', short: 't' },
  'top-p': { type: 'string' },
  'top-k': { type: 'string' },
  'min-p': { type: 'string' },
  'repetition-penalty': { type: 'string' },
  'presence-penalty': { type: 'string' },
  'frequency-penalty': { type: 'string' },
  seed: { type: 'string' },
  stop: { type: 'string', multiple: true },
  'ignore-eos': { type: 'boolean' },
} as const;

export const SAMPLING_OPTIONS_HELP = `Sampling options:
  --max-tokens, -n N        tokens to generate at most (default: up to the context length)
  --temperature, -t T       0 = greedy (default 1)
  --top-p P, --top-k K, --min-p P, --repetition-penalty R, --presence-penalty P, --frequency-penalty P
  --seed N                  reproducible sampling
  --stop S                  stop at this string (repeatable)
  --ignore-eos              keep generating past the end-of-sequence token`;

type Values = Record<string, string | boolean | string[] | undefined>;

export function numberOption(values: Values, name: string, integer = false): number | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== 'string' || v.trim() === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n))) {
    throw new UsageError(`--${name} takes ${integer ? 'an integer' : 'a number'}, not '${String(v)}'`);
  }
  return n;
}

export function sizeOption(values: Values, name: string): number | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?$/i.exec(String(v).trim());
  const units: Record<string, number> = { '': 1, b: 1, k: 1e3, kb: 1e3, kib: 1024, m: 1e6, mb: 1e6, mib: 1 << 20, g: 1e9, gb: 1e9, gib: 1 << 30, t: 1e12, tb: 1e12, tib: 2 ** 40 };
  const unit = units[(m?.[2] ?? '').toLowerCase()];
  if (!m || unit === undefined) throw new UsageError(`--${name} takes a size such as 512MiB or 2GiB, not '${String(v)}'`);
  return Math.floor(Number(m[1]) * unit);
}

/** The sampling flags as OpenAI request fields. */
export function samplingBody(values: Values): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  const set = (field: string, flag: string, integer = false) => {
    const n = numberOption(values, flag, integer);
    if (n !== undefined) body[field] = n;
  };
  set('max_tokens', 'max-tokens', true);
  set('temperature', 'temperature');
  set('top_p', 'top-p');
  set('top_k', 'top-k', true);
  set('min_p', 'min-p');
  set('repetition_penalty', 'repetition-penalty');
  set('presence_penalty', 'presence-penalty');
  set('frequency_penalty', 'frequency-penalty');
  set('seed', 'seed', true);
  if (Array.isArray(values.stop)) body.stop = values.stop;
  if (values['ignore-eos']) body.ignore_eos = true;
  return body;
}

/** Progress lines on stderr: rewritten in place on a terminal, a few milestones otherwise. */
export function progressPrinter(io: CliIo, quiet: boolean) {
  const mb = (b: number) => `${(b / 1e6).toFixed(1)} MB`;
  let lastKey = '';
  let lastPct = -1;
  const bar = (key: string, text: string, done: number, total: number) => {
    if (quiet) return;
    const pct = total ? Math.floor((done / total) * 100) : 100;
    if (io.stderr.isTTY) {
      io.stderr.write(`\r\x1b[2K${text} ${mb(done)} / ${mb(total)} (${pct}%)${done >= total ? '\n' : ''}`);
      return;
    }
    if (key !== lastKey) lastPct = -1;
    lastKey = key;
    const step = Math.floor(pct / 25) * 25;
    if (step > lastPct) {
      lastPct = step;
      io.stderr.write(`${text} ${mb(done)} / ${mb(total)} (${pct}%)\n`);
    }
  };
  const line = (s: string) => {
    if (!quiet) io.stderr.write(`${s}\n`);
  };
  return {
    line,
    download: (p: DownloadProgress) => bar(`dl:${p.file}`, `downloading ${p.file}`, p.bytesDone, p.bytesTotal),
    load: (p: LoadProgress) => {
      if (p.phase === 'open') line(`opening ${p.model}`);
      else if (p.phase === 'upload') bar('upload', 'uploading weights to the GPU', p.bytesDone, p.bytesTotal);
      else if (p.phase === 'tune' && p.event.type === 'tune-start') {
        line(`tuning ${p.event.kernel} ${p.event.problem}${p.event.index ? ` [${p.event.index}/${p.event.total}]` : ''}: ${p.event.candidates} candidates`);
      } else if (p.phase === 'ready') line(`model loaded in ${(p.ms / 1000).toFixed(1)} s`);
    },
  };
}

export interface LoadedModel {
  engine: WgllmEngine;
  view: EngineView;
  close(): Promise<void>;
}

export interface ModelSettings {
  ref: string;
  offline: boolean;
  quiet: boolean;
  engine: Pick<EngineOptions, 'act' | 'tune' | 'maxModelLen' | 'maxNumSeqs' | 'maxNumBatchedTokens' | 'kvCacheBytes'>;
  chatTemplate: string | undefined;
  gpu: Values;
}

/** The model flags, checked before anything is loaded (a bad flag is a usage error, exit 2). */
export async function modelSettings(values: Values): Promise<ModelSettings> {
  const ref = values.model;
  if (typeof ref !== 'string' || !ref) throw new UsageError('give the model: --model PATH or --model org/name (a Hugging Face id)');
  const act = values.act;
  if (act !== undefined && act !== 'f16' && act !== 'f32') throw new UsageError(`--act must be f16 or f32, not '${String(act)}'`);
  const tune = values.tune;
  if (tune !== undefined && tune !== 'off' && tune !== 'auto') throw new UsageError(`--tune must be off or auto, not '${String(tune)}'`);
  const engine: ModelSettings['engine'] = {};
  if (act) engine.act = act as ActDType;
  if (tune) engine.tune = tune as 'off' | 'auto';
  const ints = { maxModelLen: 'max-model-len', maxNumSeqs: 'max-num-seqs', maxNumBatchedTokens: 'max-num-batched-tokens' } as const;
  for (const [key, flag] of Object.entries(ints) as [keyof typeof ints, string][]) {
    const n = numberOption(values, flag, true);
    if (n !== undefined && n < 1) throw new UsageError(`--${flag} must be at least 1`);
    if (n !== undefined) engine[key] = n;
  }
  const kv = sizeOption(values, 'kv-cache-memory');
  if (kv !== undefined) engine.kvCacheBytes = kv;
  const rev = values.revision;
  const isHub = 'hf' in classifyModelRef(ref); // a path that does not exist fails here, before a server listens
  // --revision joins the id as org/name@REV (the form resolveModelRef parses).
  const withRev = isHub && typeof rev === 'string' && !ref.includes('@') ? ref.replace(/^([^/:]+\/[^/:@]+)/, `$1@${rev}`) : ref;
  return { ref: withRev, offline: values.offline === true, quiet: values.quiet === true, engine, chatTemplate: await readTemplate(values['chat-template']), gpu: values };
}

/** Resolves the model (downloading if needed), opens the GPU and loads the engine, reporting progress. */
export async function loadModel(m: ModelSettings, io: CliIo, extra: { modelName?: string; signal?: AbortSignal } = {}): Promise<LoadedModel> {
  const progress = progressPrinter(io, m.quiet);
  const resolved = await resolveModelRef(m.ref, {
    ...(m.offline ? { offline: true } : {}),
    onProgress: progress.download,
    log: progress.line,
    ...(extra.signal ? { signal: extra.signal } : {}),
  });
  const gpu = await openGpu(m.gpu);
  try {
    const engine = await createEngine({
      model: resolved.path,
      platform: createNodePlatform(),
      gpu,
      ...m.engine,
      // A Hub model is served under its id (as vLLM does); a local one under its file name.
      ...(extra.modelName ? { modelName: extra.modelName } : resolved.source !== 'local' ? { modelName: m.ref } : {}),
      onProgress: progress.load,
    });
    const view = engineView(engine, m.chatTemplate !== undefined ? { chatTemplate: m.chatTemplate } : {});
    return {
      engine,
      view,
      close: async () => {
        await engine.dispose();
        gpu.destroy();
      },
    };
  } catch (e) {
    gpu.destroy();
    throw e;
  }
}

/** --chat-template: the template text itself, or a file holding it. */
export async function readTemplate(t: unknown): Promise<string | undefined> {
  if (typeof t !== 'string') return undefined;
  // Template text has Jinja tags; anything else is a file name.
  if (/\{[{%]/.test(t)) return t;
  return readFile(t, 'utf8').catch((e: NodeJS.ErrnoException) => {
    throw new UsageError(`--chat-template: cannot read '${t}' (${e.code ?? e.message})`);
  });
}

export const RUN_HELP = `wgllm run: generate once from a prompt, streaming the text to stdout

Usage: wgllm run "PROMPT" --model M [options]
       echo "PROMPT" | wgllm run --model M [options]

  --chat                    send the prompt as a user message through the model's chat template
  --system S                with --chat: a system message first
${SAMPLING_OPTIONS_HELP}
${MODEL_OPTIONS_HELP}

Progress and a timing summary go to stderr; Ctrl-C stops the generation (exit status 130).`;

async function readAll(stream: Readable): Promise<string> {
  let s = '';
  for await (const chunk of stream) s += typeof chunk === 'string' ? chunk : new TextDecoder().decode(chunk as Uint8Array);
  return s;
}

export async function runCommand(argv: string[], io: CliIo = processIo()): Promise<number> {
  const { values, positionals } = parse(argv, { ...MODEL_OPTIONS, ...SAMPLING_OPTIONS, chat: { type: 'boolean' }, system: { type: 'string' } });
  if (values.help) {
    io.stdout.write(`${RUN_HELP}\n`);
    return 0;
  }
  let prompt = positionals.join(' ');
  if ((!prompt || prompt === '-') && !io.stdin.isTTY) prompt = (await readAll(io.stdin)).replace(/\n$/, '');
  if (!prompt) throw new UsageError('give a prompt: wgllm run "Once upon a time" --model M');
  if (values.system !== undefined && !values.chat) throw new UsageError('--system needs --chat');
  const sampling = samplingBody(values);
  const settings = await modelSettings(values);
  const ac = new AbortController();
  const stop = () => ac.abort();
  process.once('SIGINT', stop);
  const loaded = await loadModel(settings, io, { signal: ac.signal });
  try {
    const body = { ...sampling, stream: true as const, stream_options: { include_usage: true } };
    const opts = { signal: ac.signal };
    const t0 = performance.now();
    const stream = values.chat
      ? await loaded.view.chat({ ...body, messages: [...(values.system !== undefined ? [{ role: 'system' as const, content: values.system }] : []), { role: 'user', content: prompt }] }, opts)
      : await loaded.view.completion({ ...body, prompt }, opts);
    let first = 0;
    let usage: { completion_tokens: number; prompt_tokens: number } | undefined;
    let finish: string | null = null;
    for await (const chunk of stream as AsyncIterable<{ choices: { text?: string; delta?: { content?: string }; finish_reason: string | null }[]; usage?: typeof usage | null }>) {
      const c = chunk.choices[0];
      const text = c?.text ?? c?.delta?.content ?? '';
      if (text) {
        first ||= performance.now();
        io.stdout.write(text);
      }
      finish = c?.finish_reason ?? finish;
      if (chunk.usage) usage = chunk.usage;
    }
    io.stdout.write('\n');
    if (usage && !values.quiet) {
      const total = (performance.now() - t0) / 1000;
      const decode = first ? (performance.now() - first) / 1000 : 0;
      const rate = usage.completion_tokens > 1 && decode > 0 ? ` ${((usage.completion_tokens - 1) / decode).toFixed(1)} tok/s,` : '';
      io.stderr.write(
        `[${usage.prompt_tokens} prompt + ${usage.completion_tokens} generated tokens,${rate} first token ${first ? Math.round(first - t0) : '-'} ms, ${total.toFixed(2)} s, finish: ${finish}]\n`,
      );
    }
    return ac.signal.aborted ? 130 : 0;
  } finally {
    process.off('SIGINT', stop);
    await loaded.close();
  }
}
