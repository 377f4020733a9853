/** GGUF container parsing: every stored GGUF, cross-checked with @huggingface/gguf; all value types; configs. */
import { gguf as hfGguf } from '@huggingface/gguf';
import { describe, expect, it } from 'vitest';
import { parseGguf, openGgufModel, llama3FreqFactors, readTensorF32 } from '../../src/model/formats/index.js';
import { openFileSource } from '../../src/platform/node/file-source.js';
import { f32Bytes, memSource, modelPath, writeGguf, type GgufKv } from './helpers.js';
import { readdirSync } from 'node:fs';

const ALL_GGUF = ['stories260K', 'tiny-smollm2', 'tiny-qwen2', 'tiny-qwen3', 'tiny-llama3'].flatMap((d) =>
  readdirSync(modelPath(d)).filter((f) => f.endsWith('.gguf')).map((f) => `${d}/${f}`),
);

/** normalizes values for comparison: bigint -> number where safe */
const norm = (v: unknown): unknown =>
  Array.isArray(v) ? v.map(norm) : typeof v === 'bigint' && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;

describe('stored GGUF files', () => {
  it('finds the 13 GGUF files', () => expect(ALL_GGUF).toHaveLength(13));

  it.each(ALL_GGUF)('%s: same metadata and tensor infos as @huggingface/gguf', async (rel) => {
    const src = await openFileSource(modelPath(rel));
    const g = await parseGguf(src);
    const ref = await hfGguf(modelPath(rel), { allowLocalFile: true });
    expect(g.version).toBe(ref.metadata.version);
    const refMeta = Object.entries(ref.metadata).filter(([k]) => !['version', 'tensor_count', 'kv_count'].includes(k));
    expect(g.metadata.size).toBe(refMeta.length);
    for (const [k, v] of refMeta) expect(norm(g.metadata.get(k)), k).toEqual(norm(v));
    expect(g.dataOffset).toBe(Number(ref.tensorDataOffset));
    expect(g.tensors.map((t) => [t.name, t.dims, t.typeId, t.byteOffset])).toEqual(
      ref.tensorInfos.map((t) => [t.name, t.shape.map(Number), t.dtype, Number(ref.tensorDataOffset + t.offset)]),
    );
    // tensors are packed in the data section without gaps beyond alignment
    const end = Math.max(...g.tensors.map((t) => t.byteOffset + t.byteLength));
    expect(end).toBeLessThanOrEqual(src.size);
    expect(src.size - end).toBeLessThan(g.alignment);
    await src.close();
  });

  it('stories260K.gguf header as its SOURCE.md describes it', async () => {
    const src = await openFileSource(modelPath('stories260K/stories260K.gguf'));
    const g = await parseGguf(src);
    await src.close();
    expect([g.version, g.tensors.length, g.metadata.size, g.alignment, g.dataOffset]).toEqual([3, 48, 19, 32, 14176]);
    expect(g.metadata.get('tokenizer.ggml.seperator_token_id')).toBe(4294967295);
    expect((g.metadata.get('tokenizer.ggml.tokens') as string[]).length).toBe(512);
    expect(g.tensors.every((t) => t.dtype === 'f32')).toBe(true);
    expect(g.tensors.find((t) => t.name === 'blk.0.attn_k.weight')!.dims).toEqual([64, 32]);
  });

  it('shapes are reversed to outermost first; tokenizer metadata is kept', async () => {
    const m = await openGgufModel(await openFileSource(modelPath('tiny-llama3/tiny-llama3-Q4_K_M.gguf')));
    expect(m.tensors.get('blk.0.attn_q.weight')!.shape).toEqual([128, 64]);
    expect(m.tensors.get('blk.0.attn_output.weight')!.shape).toEqual([64, 128]);
    expect(m.tensors.get('blk.0.ffn_down.weight')!.shape).toEqual([64, 256]);
    expect(m.tensors.get('output.weight')!.shape).toEqual([49152, 64]);
    expect(m.tensors.get('rope_freqs.weight')!.shape).toEqual([16]);
    expect((m.ggufMetadata!.get('tokenizer.ggml.merges') as string[])[0]).toBe('Ġ t');
    expect(m.ggufMetadata!.get('tokenizer.ggml.add_bos_token')).toBe(false);
    await m.close();
  });
});

describe('GGUF value types', () => {
  it('reads every scalar type, strings, arrays and nested arrays', async () => {
    const kv: GgufKv[] = [
      ['u8', 0, 255], ['i8', 1, -128], ['u16', 2, 65535], ['i16', 3, -32768], ['u32', 4, 4294967295],
      ['i32', 5, -2147483648], ['f32', 6, 1.5], ['bool.t', 7, true], ['bool.f', 7, false], ['str', 8, 'héllo ✓'],
      ['u64.small', 10, 12345], ['u64.big', 10, 2n ** 63n + 5n], ['i64', 11, -(2n ** 40n)], ['i64.big', 11, -(2n ** 62n)],
      ['f64', 12, 0.1], ['arr.i32', 9, [1, -2, 3], 5], ['arr.str', 9, ['a', '', 'ccc'], 8], ['arr.f32', 9, [0.5, -0.25], 6],
      ['arr.empty', 9, [], 4], ['arr.nested', 9, [['x', 'y'], ['z']], 9], ['general.alignment', 4, 64],
    ];
    const bytes = writeGguf(kv, [{ name: 't', dims: [4], type: 0, data: f32Bytes([1, 2, 3, 4]) }], { alignment: 64 });
    const g = await parseGguf(memSource('types.gguf', bytes));
    expect(Object.fromEntries(g.metadata)).toEqual({
      u8: 255, i8: -128, u16: 65535, i16: -32768, u32: 4294967295, i32: -2147483648, f32: 1.5, 'bool.t': true,
      'bool.f': false, str: 'héllo ✓', 'u64.small': 12345, 'u64.big': 2n ** 63n + 5n, i64: -(2 ** 40), 'i64.big': -(2n ** 62n),
      f64: 0.1, 'arr.i32': [1, -2, 3], 'arr.str': ['a', '', 'ccc'], 'arr.f32': [0.5, -0.25], 'arr.empty': [],
      'arr.nested': [['x', 'y'], ['z']], 'general.alignment': 64,
    });
    expect(g.alignment).toBe(64);
    expect(g.dataOffset % 64).toBe(0);
    expect(g.tensors[0]).toMatchObject({ name: 't', dims: [4], dtype: 'f32', byteOffset: g.dataOffset, byteLength: 16 });
  });

  it('reads version 2 files', async () => {
    const g = await parseGguf(memSource('v2.gguf', writeGguf([['a', 4, 1]], [], { version: 2 })));
    expect(g.version).toBe(2);
    expect(g.tensors).toEqual([]);
  });
});

describe('llama3 RoPE scaling from rope_freqs.weight', () => {
  it('the divisors for theta 5e5, head 32 match SOURCE.md (pairs 0-7 = 1, pair 8 ~ 2.6945, 9-15 = 8)', () => {
    const f = llama3FreqFactors(500000, 32, { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 });
    expect(f.slice(0, 8)).toEqual([1, 1, 1, 1, 1, 1, 1, 1]);
    expect(f[8]).toBeCloseTo(2.6945, 3);
    expect(f.slice(9)).toEqual([8, 8, 8, 8, 8, 8, 8]);
  });

  it('equals the tensor stored in tiny-llama3 GGUFs', async () => {
    const m = await openGgufModel(await openFileSource(modelPath('tiny-llama3/tiny-llama3-F16.gguf')));
    const stored = await readTensorF32(m.tensors.get('rope_freqs.weight')!);
    const s = m.config.ropeScaling;
    expect(s.type).toBe('llama3');
    if (s.type !== 'llama3') return;
    expect(Array.from(stored)).toEqual(llama3FreqFactors(500000, 32, s).map(Math.fround));
    await m.close();
  });
});
