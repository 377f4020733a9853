import { describe, expect, it } from 'vitest';
import { isWgllmError } from '../../src/core/errors.js';
import { openModelFiles } from '../../src/model/open.js';
import { blobSource, pickedFilesModel } from '../../src/platform/browser/file-source.js';
import { httpSource } from '../../src/platform/browser/http-source.js';
import { BrowserModelCache, isQuotaError } from '../../src/platform/browser/model-cache.js';
import { openUrlModel, resolveModelUrl } from '../../src/platform/browser/open-model.js';

// Browser storage and model sources, in Chromium: the Cache API model cache (list, delete,
// quota errors), File-backed sources for picked files, HTTP range reads, URL resolution.
// Fixtures come from /models/ (vite.config.ts serves ../shared/models there).

const GGUF = '/models/stories260K/stories260K.gguf';
const HF = ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json'];
const ref = (await (await fetch('/models/stories260K/reference-outputs.json')).json()) as { prompt: { text: string; input_ids: number[] } };

async function file(url: string, name = url.split('/').pop()!): Promise<File> {
  return new File([await (await fetch(url)).arrayBuffer()], name);
}

describe('resolveModelUrl', () => {
  it('knows Hugging Face references and plain URLs', () => {
    expect(resolveModelUrl('hf:Qwen/Qwen3-0.6B')).toEqual({ kind: 'folder', baseUrl: 'https://huggingface.co/Qwen/Qwen3-0.6B/resolve/main/' });
    expect(resolveModelUrl('hf:a/b@v1/x/m.gguf')).toEqual({ kind: 'file', url: 'https://huggingface.co/a/b/resolve/v1/x/m.gguf' });
    expect(resolveModelUrl('https://huggingface.co/a/b/blob/main/m.gguf')).toEqual({ kind: 'file', url: 'https://huggingface.co/a/b/resolve/main/m.gguf' });
    expect(resolveModelUrl('https://huggingface.co/a/b/tree/dev')).toEqual({ kind: 'folder', baseUrl: 'https://huggingface.co/a/b/resolve/dev/' });
    expect(resolveModelUrl('/models/x/')).toEqual({ kind: 'folder', baseUrl: new URL('/models/x/', location.href).href });
    expect(resolveModelUrl('m.gguf')).toEqual({ kind: 'file', url: new URL('m.gguf', location.href).href });
  });
});

describe('BrowserModelCache (Cache API)', () => {
  const cache = new BrowserModelCache({ cacheName: 'wgllm-test-models' });

  it('downloads with progress, lists, serves slices and deletes', async () => {
    await cache.clear();
    const seen: [number, number | undefined][] = [];
    const blob = await cache.fetchInto(GGUF, (d, t) => seen.push([d, t]));
    const whole = new Uint8Array(await (await fetch(GGUF)).arrayBuffer());
    expect(blob.size).toBe(whole.byteLength);
    expect(seen.at(-1)).toEqual([whole.byteLength, whole.byteLength]);
    const src = blobSource('x', (await cache.get(GGUF))!);
    expect(await src.read(1000, 16)).toEqual(whole.slice(1000, 1016));
    const listed = await cache.list();
    expect(listed.map((f) => [new URL(f.url).pathname, f.bytes])).toEqual([[GGUF, whole.byteLength]]);
    expect(listed[0]!.storedAt).toBeGreaterThan(0);
    expect((await cache.getOrFetch(GGUF)).cached).toBe(true);
    expect(await cache.delete(GGUF)).toBe(1);
    expect(await cache.list()).toEqual([]);
  });

  it('a missing file is not_found and leaves nothing behind', async () => {
    const err = await cache.fetchInto('/models/nope.gguf').catch((e: unknown) => e);
    expect(isWgllmError(err, 'not_found')).toBe(true);
    expect(await cache.list()).toEqual([]);
  });

  it('a model larger than the free quota is refused with a plain message', async () => {
    const small = new BrowserModelCache({ cacheName: 'wgllm-test-models' });
    small.usage = () => Promise.resolve({ usage: 900_000, quota: 1_000_000 });
    const err = await small.fetchInto(GGUF).catch((e: unknown) => e);
    expect(isWgllmError(err, 'out_of_memory')).toBe(true);
    expect(isQuotaError(err)).toBe(true);
    expect((err as Error).message).toMatch(/Browser storage is full.*Delete cached models/);
    expect(isQuotaError(new DOMException('full', 'QuotaExceededError'))).toBe(true);
    await cache.clear();
  });

  it('openUrlModel goes through the cache; folders resolve their files', async () => {
    const loc = await openUrlModel(GGUF, { cache });
    const { tokenizer, model } = await openModelFiles(loc);
    expect(tokenizer.encode(ref.prompt.text)).toEqual(ref.prompt.input_ids);
    await model.close();
    expect((await cache.list()).length).toBe(1);
    const hf = await openUrlModel('/models/stories260K-hf/', { cache: false });
    const opened = await openModelFiles(hf);
    expect(opened.tokenizer.encode(ref.prompt.text)).toEqual(ref.prompt.input_ids);
    await opened.model.close();
    await cache.clear();
  });
});

describe('model sources', () => {
  it('httpSource reads ranges, small reads from one window', async () => {
    const whole = new Uint8Array(await (await fetch(GGUF)).arrayBuffer());
    const src = await httpSource(new URL(GGUF, location.href).href);
    expect(src.size).toBe(whole.byteLength);
    expect(await src.read(0, 4)).toEqual(whole.slice(0, 4));
    expect(await src.read(70_000, 300)).toEqual(whole.slice(70_000, 70_300));
    expect(await src.read(100_000, 1 << 20)).toEqual(whole.slice(100_000, 100_000 + (1 << 20)));
    await expect(src.read(whole.byteLength - 2, 4)).rejects.toThrow(/past the end/);
  });

  it('picked files: a .gguf alone, or an HF folder by its files', async () => {
    const gguf = pickedFilesModel([await file(GGUF)]);
    expect(gguf.kind).toBe('file');
    const a = await openModelFiles(gguf);
    expect(a.tokenizer.encode(ref.prompt.text)).toEqual(ref.prompt.input_ids);
    await a.model.close();
    const files = await Promise.all(HF.map((n) => file(`/models/stories260K-hf/${n}`)));
    const folder = pickedFilesModel(files);
    expect(folder.kind).toBe('folder');
    const b = await openModelFiles(folder);
    expect(b.model.config.vocabSize).toBe(512);
    expect(b.tokenizer.encode(ref.prompt.text)).toEqual(ref.prompt.input_ids);
    await b.model.close();
  });

  it('picked files that are not a model get a message that says what to pick', async () => {
    expect(() => pickedFilesModel([])).toThrow(/Pick one \.gguf/);
    expect(() => pickedFilesModel([new File(['x'], 'notes.txt')])).toThrow(/None of the picked files is a model/);
    expect(() => pickedFilesModel([new File(['{}'], 'config.json')])).toThrow(/without model\.safetensors/);
    expect(() => pickedFilesModel([new File(['a'], 'a.gguf'), new File(['b'], 'b.gguf')])).toThrow(/pick just one/);
  });
});
