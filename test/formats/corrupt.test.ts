/**
 * Broken inputs: every failure is a WgllmError with the right code and a message naming the file
 * (and the tensor, where there is one); never a RangeError, SyntaxError or TypeError.
 */
import { describe, expect, it } from 'vitest';
import { isWgllmError } from '../../src/core/errors.js';
import { Rng } from '../../src/core/random.js';
import { openGgufModel, openHfModel, openLlama2cModel, parseGguf, parseSafetensors, readTensorF32 } from '../../src/model/formats/index.js';
import { expectError, f32Bytes, json, memFolder, memSource, modelBytes, writeGguf, writeSafetensors, type GgufKv } from './helpers.js';

const STORIES = modelBytes('stories260K/stories260K.gguf');
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

/** Offset of the first occurrence of `needle` in `hay`. */
function find(hay: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  throw new Error('not found');
}

/** stories260K.gguf with the u32 value of metadata key `key` replaced */
function patchU32(key: string, value: number): Uint8Array {
  const b = STORIES.slice();
  const at = find(b, enc(key)) + key.length;
  new DataView(b.buffer).setUint32(at + 4, value, true); // skip the u32 type tag
  return b;
}

const g = (bytes: Uint8Array, name = 'bad.gguf'): Promise<unknown> => openGgufModel(memSource(name, bytes));

describe('GGUF', () => {
  it('wrong magic, unknown or unsupported version', async () => {
    const b = STORIES.slice();
    b.set(enc('GGML'), 0);
    await expectError(g(b), 'model_format', /bad\.gguf/, /not a GGUF file/);
    await expectError(g(writeGguf([], [], { version: 1 })), 'model_unsupported', /version 1/);
    await expectError(g(writeGguf([], [], { version: 7 })), 'model_format', /unknown GGUF version 7/);
    const be = writeGguf([], []);
    new DataView(be.buffer).setUint32(4, 3, false);
    await expectError(g(be), 'model_unsupported', /big-endian/);
  });

  it('truncated anywhere: header, metadata, tensor infos, data', async () => {
    const cuts = [0, 3, 4, 7, 8, 20, 23, 24, 100, 2000, 6000, 13000, 14100, 14176, 14177, 200_000, STORIES.length - 1];
    for (const cut of cuts) {
      const e = await expectError(g(STORIES.subarray(0, cut), 'cut.gguf'), 'model_format', /cut\.gguf/);
      if (cut >= 13000) expect(e.message).toMatch(/tensor '[^']+' data .* past the end/);
      else if (cut > 24) expect(e.message).toMatch(/truncated/);
    }
    // a tokenizer-sized file cut in the middle of its 49,152-token vocabulary and merges
    const big = modelBytes('tiny-qwen2/tiny-qwen2-Q8_0.gguf');
    for (const cut of [500_000, 1_000_000, 1_771_000]) {
      await expectError(g(big.subarray(0, cut), 'q.gguf'), 'model_format', /q\.gguf/, /truncated/);
    }
  });

  it('tensor data past EOF or misaligned, named', async () => {
    const t = (offset: number): GgufKv[] => [['x', 4, offset]];
    const data = f32Bytes([1, 2, 3, 4]);
    const past = writeGguf(t(0), [{ name: 'w.weight', dims: [4], type: 0, data, offset: 0 }, { name: 'far.weight', dims: [4], type: 0, data, offset: 1 << 20 }]);
    await expectError(parseGguf(memSource('p.gguf', past.subarray(0, past.length - (1 << 20)))), 'model_format', /p\.gguf/, /'far\.weight'/, /past the end/);
    const mis = writeGguf(t(0), [{ name: 'w.weight', dims: [4], type: 0, data, offset: 4 }]);
    await expectError(parseGguf(memSource('m.gguf', mis)), 'model_format', /'w\.weight'/, /not aligned to 32/);
    const overlap = writeGguf(t(0), [{ name: 'a.weight', dims: [8], type: 0, data: f32Bytes([1, 2, 3, 4, 5, 6, 7, 8]), offset: 0 }, { name: 'b.weight', dims: [4], type: 0, data, offset: 0 }]);
    await expectError(parseGguf(memSource('o.gguf', overlap)), 'model_format', /'a\.weight' and 'b\.weight' overlap/);
    const huge = writeGguf(t(0), [{ name: 'h.weight', dims: [2 ** 40, 2 ** 40], type: 0, data }]);
    await expectError(parseGguf(memSource('h.gguf', huge)), 'model_format', /'h\.weight'/);
  });

  it('tensor types we do not read are model_unsupported, naming tensor and type', async () => {
    const q2k = writeGguf([], [{ name: 'blk.0.ffn_up.weight', dims: [256, 1], type: 10, data: new Uint8Array(84) }]);
    await expectError(parseGguf(memSource('t.gguf', q2k)), 'model_unsupported', /t\.gguf/, /'blk\.0\.ffn_up\.weight'/, /Q2_K/);
    const unknown = writeGguf([], [{ name: 'x', dims: [4], type: 77, data: new Uint8Array(16) }]);
    await expectError(parseGguf(memSource('t.gguf', unknown)), 'model_unsupported', /'x'/, /unknown type id 77/);
    const rows = writeGguf([], [{ name: 'q', dims: [33, 2], type: 8, data: new Uint8Array(200) }]);
    await expectError(parseGguf(memSource('t.gguf', rows)), 'model_format', /'q'/, /row length 33/);
  });

  it('impossible counts, lengths, dims, types, duplicates, alignment', async () => {
    const hdr = writeGguf([], []);
    const big = hdr.slice();
    new DataView(big.buffer).setBigUint64(8, 2n ** 60n, true);
    await expectError(parseGguf(memSource('c.gguf', big)), 'model_format', /tensor count .* impossible/);
    const kvBig = hdr.slice();
    new DataView(kvBig.buffer).setBigUint64(16, 1000n, true);
    await expectError(parseGguf(memSource('c.gguf', kvBig)), 'model_format', /metadata count .* impossible/);
    const strLen = writeGguf([['key', 8, 'abc']], []);
    new DataView(strLen.buffer).setBigUint64(24 + 8 + 3 + 4, 2n ** 62n, true);
    await expectError(parseGguf(memSource('c.gguf', strLen)), 'model_format', /string length/, /metadata key 'key'/);
    const arrLen = writeGguf([['arr', 9, [1, 2], 4]], []);
    new DataView(arrLen.buffer).setBigUint64(24 + 8 + 3 + 4 + 4, 10n ** 9n, true);
    await expectError(parseGguf(memSource('c.gguf', arrLen)), 'model_format', /array length/);
    await expectError(parseGguf(memSource('c.gguf', writeGguf([['k', 13, 0]], []))), 'model_format', /unknown metadata value type 13/);
    await expectError(parseGguf(memSource('c.gguf', writeGguf([['k', 9, [1], 42]], []))), 'model_format', /unknown array element type 42/);
    await expectError(parseGguf(memSource('c.gguf', writeGguf([['k', 7, 2]], []))), 'model_format', /bool value 2/);
    await expectError(parseGguf(memSource('c.gguf', writeGguf([['k', 4, 1], ['k', 4, 2]], []))), 'model_format', /duplicate metadata key 'k'/);
    const data = f32Bytes([1]);
    const dupT = writeGguf([], [{ name: 'a', dims: [1], type: 0, data }, { name: 'a', dims: [1], type: 0, data }]);
    await expectError(parseGguf(memSource('c.gguf', dupT)), 'model_format', /duplicate tensor 'a'/);
    const dims5 = writeGguf([], [{ name: 'd', dims: [1, 1, 1, 1, 1], type: 0, data }]);
    await expectError(parseGguf(memSource('c.gguf', dims5)), 'model_format', /'d' has 5 dims/);
    await expectError(parseGguf(memSource('c.gguf', writeGguf([['general.alignment', 4, 24]], []))), 'model_format', /alignment 24/);
  });

  it('well-formed files that are not models we run', async () => {
    // the architecture string's length zeroed: the following bytes no longer parse
    await expectError(g(patchU32('general.architecture', 0), 'a.gguf'), 'model_format', /a\.gguf/);
    const arch = STORIES.slice();
    arch.set(enc('gemma'), find(arch, enc('general.architecture')) + 20 + 4 + 8); // key, type tag, string length
    await expectError(g(arch, 'a.gguf'), 'model_unsupported', /a\.gguf/, /architecture 'gemma'/);
    await expectError(g(patchU32('llama.feed_forward_length', 171), 's.gguf'), 'model_format', /s\.gguf/, /'blk\.0\.ffn_gate\.weight' has shape \[172,64\].*\[171,64\]/);
    await expectError(g(patchU32('llama.attention.head_count_kv', 3), 's.gguf'), 'model_format', /multiple of numKvHeads/);
    const renamed = STORIES.slice();
    renamed.set(enc('blk.3.ffn_xx.weight'), find(renamed, enc('blk.3.ffn_up.weight')));
    await expectError(g(renamed, 'r.gguf'), 'model_format', /r\.gguf/, /missing tensor 'blk\.3\.ffn_up\.weight'/);
    const extra = STORIES.slice();
    extra.set(enc('blk.9'), find(extra, enc('blk.4.ffn_up.weight'))); // a 6th layer's tensor in a 5-layer model
    await expectError(g(extra, 'e.gguf'), 'model_format', /missing tensor 'blk\.4\.ffn_up\.weight'/);
  });
});

describe('safetensors', () => {
  const tensors = { a: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 16] }, b: { dtype: 'F16', shape: [4], data_offsets: [16, 24] } };
  const data = new Uint8Array(24);
  const st = (h: Record<string, unknown>, d = data): Promise<unknown> => parseSafetensors(memSource('m.safetensors', writeSafetensors(h, d)));

  it('parses a small valid file', async () => {
    const f = await parseSafetensors(memSource('m.safetensors', writeSafetensors({ ...tensors, __metadata__: { format: 'pt' } }, data)));
    expect(f.metadata).toEqual({ format: 'pt' });
    expect(f.tensors.get('b')).toMatchObject({ shape: [4], dtype: 'f16', byteLength: 8 });
    // bf16 (how most Hub checkpoints are stored) reads back as f32
    const bf = Uint8Array.from([0x80, 0x3f, 0x40, 0xc0, 0x49, 0x40]); // 1, -3, 3.140625
    const g16 = await parseSafetensors(memSource('b.safetensors', writeSafetensors({ w: { dtype: 'BF16', shape: [3], data_offsets: [0, 6] } }, bf)));
    expect(Array.from(await readTensorF32(g16.tensors.get('w')!))).toEqual([1, -3, 3.140625]);
  });

  it('bad header JSON, length and layout', async () => {
    const bad = writeSafetensors(tensors, data);
    bad[8] = 0x78; // '{' -> 'x'
    await expectError(parseSafetensors(memSource('m.safetensors', bad)), 'model_format', /m\.safetensors/, /not valid JSON/);
    const len = writeSafetensors(tensors, data);
    new DataView(len.buffer).setBigUint64(0, 2n ** 40n, true);
    await expectError(parseSafetensors(memSource('m.safetensors', len)), 'model_format', /header length/);
    await expectError(st({ a: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 12] } }), 'model_format', /tensor 'a'/, /needs 16 bytes/);
    await expectError(st({ a: { dtype: 'F32', shape: [2, 4], data_offsets: [0, 32] } }), 'model_format', /tensor 'a'/, /outside the data section/);
    await expectError(st({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }), 'model_format', /overlap/);
    await expectError(st({ a: { dtype: 'F32', shape: [-1], data_offsets: [0, 8] } }), 'model_format', /tensor 'a'/, /shape/);
    await expectError(st({ a: { dtype: 'F32', shape: [2] } }), 'model_format', /tensor 'a'/, /data_offsets/);
    await expectError(st({ a: 5 }), 'model_format', /tensor 'a'/);
    await expectError(st({ __metadata__: { n: 1 } }), 'model_format', /__metadata__/);
    await expectError(parseSafetensors(memSource('m.safetensors', new Uint8Array(5))), 'model_format', /truncated/);
  });

  it('dtypes other than F32/F16/BF16 are model_unsupported, named', async () => {
    await expectError(st({ q: { dtype: 'I8', shape: [8], data_offsets: [0, 8] } }), 'model_unsupported', /m\.safetensors/, /'q'/, /I8/);
  });

  it('truncated stories260K-hf/model.safetensors anywhere', async () => {
    const b = modelBytes('stories260K-hf/model.safetensors');
    for (const cut of [0, 7, 8, 100, 4863, 4864, 5000, b.length - 1]) {
      await expectError(parseSafetensors(memSource('cut.safetensors', b.subarray(0, cut))), 'model_format', /cut\.safetensors/);
    }
  });

  describe('HF folder vs config', () => {
    const folder = async (mutate: (h: Record<string, unknown>, cfg: Record<string, unknown>) => void): Promise<unknown> => {
      const bytes = modelBytes('stories260K-hf/model.safetensors');
      const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
      const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<string, unknown>;
      const cfg = JSON.parse(new TextDecoder().decode(modelBytes('stories260K-hf/config.json'))) as Record<string, unknown>;
      mutate(header, cfg);
      return openHfModel(memFolder({ 'config.json': json(cfg), 'model.safetensors': writeSafetensors(header, bytes.subarray(8 + n)) }), 'hf');
    };
    it('unchanged folder opens', async () => expect(await folder(() => undefined)).toBeTruthy());
    it('config/weights shape mismatch names the tensor', async () => {
      await expectError(folder((_, c) => void (c.intermediate_size = 170)), 'model_format', /hf/, /'blk\.0\.ffn_gate\.weight' has shape \[172,64\].*\[170,64\]/);
      await expectError(folder((_, c) => void (c.vocab_size = 500)), 'model_format', /'token_embd\.weight'/);
    });
    it('missing and unknown tensors', async () => {
      await expectError(folder((h) => void delete h['model.layers.2.mlp.up_proj.weight']), 'model_format', /missing tensor 'blk\.2\.ffn_up\.weight'/);
      await expectError(
        folder((h) => void (h['model.layers.0.mlp.extra.weight'] = h['model.norm.weight'])),
        'model_format', // shares bytes with model.norm.weight
        /overlap/,
      );
      await expectError(
        folder((h) => {
          h['model.layers.0.mlp.extra.weight'] = { dtype: 'F32', shape: [0], data_offsets: [0, 0] };
        }),
        'model_unsupported',
        /'model\.layers\.0\.mlp\.extra\.weight'/,
      );
    });
    it('bad config.json', async () => {
      const st = modelBytes('stories260K-hf/model.safetensors');
      await expectError(openHfModel(memFolder({ 'config.json': enc('{"a":'), 'model.safetensors': st }), 'hf'), 'model_format', /config\.json/, /not valid JSON/);
    });
  });
});

describe('fuzz: random corruption never escapes as a non-WgllmError', () => {
  const survive = async (open: () => Promise<unknown>): Promise<void> => {
    try {
      await open();
    } catch (e) {
      if (!isWgllmError(e)) throw e;
    }
  };
  it('GGUF header bytes', async () => {
    const rng = new Rng(1);
    for (let i = 0; i < 300; i++) {
      const b = STORIES.slice();
      for (let k = rng.int(1, 4); k > 0; k--) b[rng.int(0, 14175)] = rng.int(0, 255);
      await survive(() => g(b));
    }
  });
  it('safetensors header bytes and llama2.c headers', async () => {
    const rng = new Rng(2);
    const st = modelBytes('stories260K-hf/model.safetensors');
    const cfg = modelBytes('stories260K-hf/config.json');
    const bin = modelBytes('stories260K/stories260K.bin');
    for (let i = 0; i < 300; i++) {
      const b = st.slice();
      for (let k = rng.int(1, 4); k > 0; k--) b[rng.int(0, 4863)] = rng.int(0, 255);
      await survive(() => openHfModel(memFolder({ 'config.json': cfg, 'model.safetensors': b }), 'hf'));
      const c = bin.slice();
      c[rng.int(0, 27)] = rng.int(0, 255);
      await survive(() => openLlama2cModel(memSource('b.bin', c)));
    }
  });
});
