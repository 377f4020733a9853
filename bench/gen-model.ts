/**
 * Writes a benchmark model: a valid GGUF with the real shapes of a known model, random weights
 * of a file format, and a real tokenizer (SmolLM2's, the only one at hand), for end-to-end speed
 * runs where only shapes and formats matter.
 *
 *   node bench/build.mjs bench/gen-model.ts
 *   node bench/dist/gen-model.js --model llama-3.1-8b --format Q4_0 --out /tmp/llama8b-q4_0.gguf [--layers N]
 *
 * `--layers N` keeps only the first N blocks (quick tests). `--tokenizer` points at a
 * tokenizer.json (default: SmolLM2-135M-Instruct's under ../shared/models or shared/models).
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { meta, writeGguf, type GgufMetaValue } from './gguf-writer.js';
import { MODEL_SHAPES, modelMetadata, modelTensors, type FileFormat, type ModelId, type ModelShape } from './model-shapes.js';

const TOKENIZER_REL = 'models/smollm2-135m-instruct-tokenizer/tokenizer.json';

/**
 * SmolLM2-Instruct's chat template (its tokenizer_config.json; tokenizer.json does not carry it),
 * so that chat-completion and server benchmarks can run on these files.
 */
const CHAT_TEMPLATE =
  "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\\n' }}{% endif %}" +
  "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

export function defaultTokenizerPath(): string {
  const dirs = [process.env.WGLLM_MODELS_DIR && path.dirname(process.env.WGLLM_MODELS_DIR), '../shared', 'shared'];
  for (const d of dirs) if (d && existsSync(path.join(d, TOKENIZER_REL))) return path.join(d, TOKENIZER_REL);
  throw new Error(`no tokenizer found at {../shared,shared}/${TOKENIZER_REL}; pass --tokenizer`);
}

interface TokenizerJson {
  added_tokens: { id: number; content: string; special: boolean }[];
  model: { type: string; vocab: Record<string, number>; merges: (string | [string, string])[] };
}

/**
 * The `tokenizer.ggml.*` keys of a GPT-2 style byte-level BPE tokenizer.json, laid out as
 * llama.cpp's converter writes SmolLM2's (tokens by id, token_type 3 for special added tokens and
 * 1 otherwise, merges as "a b", bos <|im_start|> and eos <|im_end|> ids from the instruct config).
 *
 * For models whose vocabulary is larger than the tokenizer's (Llama 3: 128256, Qwen2.5: 151936),
 * the list is padded with `<|reserved_special_token_N|>` entries of type 3 (control) up to
 * n_vocab: every id the model can emit then has a token, which keeps the file valid for
 * llama.cpp (it requires n_tokens == n_vocab) and for our tokenizer, and such tokens are never
 * produced by encoding text.
 */
export async function tokenizerMetadata(tokenizerPath: string, nVocab: number): Promise<Map<string, GgufMetaValue>> {
  const t = JSON.parse(await readFile(tokenizerPath, 'utf8')) as TokenizerJson;
  if (t.model.type !== 'BPE') throw new Error(`${tokenizerPath}: a ${t.model.type} tokenizer, expected BPE`);
  const tokens: string[] = [];
  const types: number[] = [];
  for (const [tok, id] of Object.entries(t.model.vocab)) {
    tokens[id] = tok;
    types[id] = 1;
  }
  for (const a of t.added_tokens) {
    tokens[a.id] = a.content;
    types[a.id] = a.special ? 3 : 4; // 4: user-defined
  }
  const n = tokens.length;
  for (let i = 0; i < n; i++) if (tokens[i] === undefined) throw new Error(`${tokenizerPath}: no token with id ${i}`);
  if (n > nVocab) throw new Error(`${tokenizerPath}: ${n} tokens, more than the model's ${nVocab}`);
  for (let i = n; i < nVocab; i++) {
    tokens.push(`<|reserved_special_token_${i - n}|>`);
    types.push(3);
  }
  const idOf = (s: string): number => {
    const id = tokens.indexOf(s);
    if (id < 0) throw new Error(`${tokenizerPath}: no token ${s}`);
    return id;
  };
  return new Map<string, GgufMetaValue>([
    ['tokenizer.ggml.model', meta.str('gpt2')],
    ['tokenizer.ggml.pre', meta.str('smollm')],
    ['tokenizer.ggml.tokens', meta.strs(tokens)],
    ['tokenizer.ggml.token_type', meta.i32s(types)],
    ['tokenizer.ggml.merges', meta.strs(t.model.merges.map((m) => (typeof m === 'string' ? m : m.join(' '))))],
    ['tokenizer.ggml.bos_token_id', meta.u32(idOf('<|im_start|>'))],
    ['tokenizer.ggml.eos_token_id', meta.u32(idOf('<|im_end|>'))],
    ['tokenizer.ggml.unknown_token_id', meta.u32(idOf('<|endoftext|>'))],
    ['tokenizer.ggml.padding_token_id', meta.u32(idOf('<|im_end|>'))],
    ['tokenizer.ggml.add_bos_token', meta.bool(false)],
    ['tokenizer.ggml.add_space_prefix', meta.bool(false)],
    ['tokenizer.chat_template', meta.str(CHAT_TEMPLATE)],
  ]);
}

export interface GenModelOptions {
  model: ModelId;
  format: FileFormat;
  out: string;
  /** keep only the first N blocks */
  layers?: number;
  tokenizer?: string;
}

export interface GenModelResult {
  shape: ModelShape;
  bytes: number;
  seconds: number;
}

export async function generateModel(o: GenModelOptions): Promise<GenModelResult> {
  const base: ModelShape = MODEL_SHAPES[o.model];
  if (!base) throw new Error(`unknown model '${o.model}' (known: ${Object.keys(MODEL_SHAPES).join(', ')})`);
  if (o.layers !== undefined && !(Number.isInteger(o.layers) && o.layers >= 1)) throw new Error(`--layers must be a positive integer`);
  const shape: ModelShape = { ...base, layers: Math.min(o.layers ?? base.layers, base.layers) };
  const t0 = performance.now();
  const metadata = modelMetadata(shape, o.format);
  for (const [k, v] of await tokenizerMetadata(o.tokenizer ?? defaultTokenizerPath(), shape.vocab)) metadata.set(k, v);
  const { bytes } = await writeGguf(o.out, metadata, modelTensors(shape, o.format));
  return { shape, bytes, seconds: (performance.now() - t0) / 1000 };
}

async function main(): Promise<void> {
  const { values: args } = parseArgs({
    options: {
      model: { type: 'string' },
      format: { type: 'string', default: 'Q4_0' },
      out: { type: 'string' },
      layers: { type: 'string' },
      tokenizer: { type: 'string' },
    },
  });
  const formats: FileFormat[] = ['Q4_0', 'Q8_0', 'F16'];
  const format = args.format!.toUpperCase() as FileFormat;
  if (!args.model || !(args.model in MODEL_SHAPES) || !args.out || !formats.includes(format)) {
    console.error(`usage: gen-model --model ${Object.keys(MODEL_SHAPES).join('|')} --format ${formats.join('|')} --out FILE [--layers N] [--tokenizer tokenizer.json]`);
    process.exit(2);
  }
  const opts: GenModelOptions = { model: args.model as ModelId, format, out: args.out };
  if (args.layers !== undefined) opts.layers = Number(args.layers);
  if (args.tokenizer !== undefined) opts.tokenizer = args.tokenizer;
  const r = await generateModel(opts);
  const gib = r.bytes / 2 ** 30;
  console.log(`${args.out}: ${r.shape.name} ${format}, ${r.shape.layers} layers, ${r.bytes} bytes (${gib.toFixed(2)} GiB) in ${r.seconds.toFixed(1)} s (${(gib / r.seconds).toFixed(2)} GiB/s)`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
