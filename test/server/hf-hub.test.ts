import { mkdirSync, mkdtempSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { isWgllmError } from '../../src/core/errors.js';
import { openModelFiles } from '../../src/model/open.js';
import { openLocalModel } from '../../src/platform/node/model-location.js';
import { parseHfRef, pickFiles, resolveModelRef } from '../../src/platform/node/hf-hub.js';
import { modelPath } from '../support/models.js';
import { closedPort, sha256, startFakeHub, type FakeHub } from './fake-hub.js';

/**
 * Model resolution: local paths, Hugging Face ids through the standard HF cache layout (a fake
 * cache made here; a fake Hub on loopback for downloads and resume), offline mode, and the
 * errors when the network or a file is missing. Nothing leaves loopback.
 */
const COMMIT = 'a'.repeat(40);
const gguf = new Uint8Array(readFileSync(modelPath('stories260K/stories260K.gguf')));
const hfFiles = Object.fromEntries(
  ['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json'].map((f) => [f, new Uint8Array(readFileSync(modelPath(`stories260K-hf/${f}`)))]),
);
const temp = () => mkdtempSync(join(tmpdir(), 'wgllm-hf-'));

/** The layout huggingface_hub (Python) writes: blobs by hash, snapshot symlinks, refs/main. */
function fakeCache(files: Record<string, Uint8Array>, repo = 'test-org/stories'): string {
  const cache = temp();
  const dir = join(cache, `models--${repo.replace('/', '--')}`);
  mkdirSync(join(dir, 'blobs'), { recursive: true });
  mkdirSync(join(dir, 'snapshots', COMMIT), { recursive: true });
  mkdirSync(join(dir, 'refs'));
  writeFileSync(join(dir, 'refs', 'main'), COMMIT);
  for (const [name, bytes] of Object.entries(files)) {
    writeFileSync(join(dir, 'blobs', sha256(bytes)), bytes);
    symlinkSync(`../../blobs/${sha256(bytes)}`, join(dir, 'snapshots', COMMIT, name));
  }
  return cache;
}

async function failure(p: Promise<unknown>): Promise<Error> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x as Error,
  );
  expect(e, 'expected a rejection').toBeInstanceOf(Error);
  return e!;
}

const hubs: FakeHub[] = [];
afterAll(async () => {
  for (const h of hubs) await h.close();
});
afterEach(() => vi.unstubAllEnvs());

describe('model references', () => {
  it('parses Hub ids: repo, quant tag, file, revision; rejects paths and traversal', () => {
    expect(parseHfRef('org/name')).toEqual({ repo: 'org/name', revision: 'main' });
    expect(parseHfRef('org/name:Q4_K_M')).toEqual({ repo: 'org/name', revision: 'main', quant: 'Q4_K_M' });
    expect(parseHfRef('org/name@v1.0/sub/model-q8_0.gguf')).toEqual({ repo: 'org/name', revision: 'v1.0', file: 'sub/model-q8_0.gguf' });
    expect(parseHfRef(`org/name@${COMMIT}`)).toEqual({ repo: 'org/name', revision: COMMIT });
    for (const bad of ['name', 'org/../x', 'org/name/../../etc/passwd', 'org//name', '/abs/path', 'a/b:c:d']) expect(parseHfRef(bad), bad).toBeUndefined();
  });

  it('picks the files of a repo: HF checkpoint, GGUF by tag, the only GGUF, Q4_K_M among several', async () => {
    const ref = (s: string) => parseHfRef(s)!;
    const none = async () => ({});
    const hf = ['config.json', 'model.safetensors', 'tokenizer.json', 'README.md', 'x-Q8_0.gguf'];
    expect(await pickFiles(ref('o/n'), hf, none)).toEqual({ files: ['config.json', 'tokenizer.json', 'model.safetensors'], entry: '' });
    expect(await pickFiles(ref('o/n:q8_0'), hf, none)).toEqual({ files: ['x-Q8_0.gguf'], entry: 'x-Q8_0.gguf' });
    const sharded = ['config.json', 'model.safetensors.index.json', 'model-1.safetensors', 'model-2.safetensors'];
    const index = async () => ({ weight_map: { a: 'model-1.safetensors', b: 'model-2.safetensors', c: 'model-1.safetensors' } });
    expect((await pickFiles(ref('o/n'), sharded, index)).files).toEqual(['config.json', 'model.safetensors.index.json', 'model-1.safetensors', 'model-2.safetensors']);
    const many = ['m-Q4_0.gguf', 'm-Q4_K_M.gguf', 'm-Q8_0.gguf', 'mmproj-f16.gguf'];
    expect((await pickFiles(ref('o/n'), many, none)).entry).toBe('m-Q4_K_M.gguf');
    expect((await pickFiles(ref('o/n:Q4_0'), many, none)).entry).toBe('m-Q4_0.gguf');
    expect((await failure(pickFiles(ref('o/n:Q2_K'), many, none))).message).toMatch(/no GGUF file tagged 'Q2_K'.*m-Q4_0\.gguf, m-Q4_K_M\.gguf, m-Q8_0\.gguf/);
    expect((await failure(pickFiles(ref('o/n'), ['a-Q4_0.gguf', 'a-Q8_0.gguf'], none))).message).toMatch(/several GGUF files; pick one as o\/n:QUANT/);
    expect((await pickFiles(ref('o/n/llama/model.bin'), ['llama/model.bin', 'llama/tok512.bin', 'x.bin'], none)).files).toEqual(['llama/model.bin', 'llama/tok512.bin']);
  });

  it('a local path is used as is; a missing path that is no Hub id says so', async () => {
    const p = modelPath('stories260K/stories260K.gguf');
    expect(await resolveModelRef(p)).toEqual({ path: p, source: 'local' });
    expect((await failure(resolveModelRef('./no/such/model.gguf'))).message).toMatch(/not found: no such file or folder, and not a Hugging Face id/);
  });
});

describe('the Hugging Face cache', () => {
  it('offline: resolves from a cache that another tool wrote, and the model opens', async () => {
    const cacheDir = fakeCache({ 'stories260K.gguf': gguf, 'README.md': new TextEncoder().encode('# hi') });
    const r = await resolveModelRef('test-org/stories', { cacheDir, offline: true });
    expect(r).toMatchObject({ source: 'hf-cache', repo: 'test-org/stories', commit: COMMIT });
    expect(r.path).toBe(join(cacheDir, 'models--test-org--stories', 'snapshots', COMMIT, 'stories260K.gguf'));
    const { model, tokenizer } = await openModelFiles(await openLocalModel(r.path));
    expect(model.config.vocabSize).toBe(512);
    expect(tokenizer.vocabSize).toBe(512);
    await model.close();
    // HF_HUB_OFFLINE=1 and HF_HUB_CACHE do the same; a commit hash as the revision needs no ref.
    vi.stubEnv('HF_HUB_OFFLINE', '1');
    vi.stubEnv('HF_HUB_CACHE', cacheDir);
    expect((await resolveModelRef(`test-org/stories@${COMMIT}`)).path).toBe(r.path);
  });

  it('offline: an HF checkpoint folder resolves to its snapshot folder', async () => {
    const cacheDir = fakeCache(hfFiles, 'test-org/stories-hf');
    const r = await resolveModelRef('test-org/stories-hf', { cacheDir, offline: true });
    expect(r.path).toBe(join(cacheDir, 'models--test-org--stories-hf', 'snapshots', COMMIT));
    const { model } = await openModelFiles(await openLocalModel(r.path));
    expect(model.config.numLayers ?? model.config.vocabSize).toBeGreaterThan(0);
    await model.close();
  });

  it('offline: a repo, revision or file missing from the cache is a clear error, with no network use', async () => {
    const cacheDir = fakeCache({ 'stories260K.gguf': gguf });
    const notCached = await failure(resolveModelRef('test-org/other', { cacheDir, offline: true }));
    expect(isWgllmError(notCached, 'not_found')).toBe(true);
    expect(notCached.message).toMatch(/test-org\/other: not found in the Hugging Face cache at .*offline mode.*huggingface-cli download test-org\/other/);
    expect((await failure(resolveModelRef('test-org/stories@dev', { cacheDir, offline: true }))).message).toMatch(/no revision 'dev'/);
    expect((await failure(resolveModelRef('test-org/stories/other.gguf', { cacheDir, offline: true }))).message).toMatch(/has no file 'other\.gguf'/);
    // A snapshot link whose blob is gone (an interrupted download elsewhere).
    const broken = fakeCache({});
    symlinkSync('../../blobs/deadbeef', join(broken, 'models--test-org--stories', 'snapshots', COMMIT, 'model.gguf'));
    expect((await failure(resolveModelRef('test-org/stories', { cacheDir: broken, offline: true }))).message).toMatch(/'model\.gguf' of snapshot a+ is missing/);
  });

  it('an unreachable Hub fails fast with a clear error; with the model cached it falls back to the cache', async () => {
    const endpoint = `http://127.0.0.1:${await closedPort()}`;
    const t0 = Date.now();
    const e = await failure(resolveModelRef('test-org/stories', { cacheDir: temp(), endpoint }));
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(e.message).toMatch(/cannot reach the Hugging Face Hub \(http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED\) and test-org\/stories is not in the local cache/);
    const log = vi.fn();
    const cacheDir = fakeCache({ 'stories260K.gguf': gguf });
    const r = await resolveModelRef('test-org/stories', { cacheDir, endpoint, log });
    expect(r.source).toBe('hf-cache');
    expect(log.mock.calls[0]![0]).toMatch(/unreachable .*using the cached snapshot a{40}/);
  });
});

describe('downloads from a Hub (a fake one on loopback)', async () => {
  const hub = await startFakeHub({
    'test-org/stories': { commit: 'b'.repeat(40), files: { 'stories-F32.gguf': gguf, 'stories-Q8_0.gguf': gguf.subarray(0, 4096), 'README.md': new TextEncoder().encode('x') } },
    'test-org/stories-hf': { commit: 'c'.repeat(40), files: { ...hfFiles, 'README.md': new TextEncoder().encode('x') } },
    'test-org/gated': { commit: 'd'.repeat(40), files: {}, status: 401 },
  });
  hubs.push(hub);

  it('downloads into the HF layout (blobs, relative snapshot links, refs) and reuses it afterwards', async () => {
    const cacheDir = temp();
    const progress = vi.fn();
    const r = await resolveModelRef('test-org/stories:F32', { cacheDir, endpoint: hub.url, onProgress: progress });
    const repoDir = join(cacheDir, 'models--test-org--stories');
    expect(r).toMatchObject({ source: 'hf-download', commit: 'b'.repeat(40) });
    expect(r.path).toBe(join(repoDir, 'snapshots', 'b'.repeat(40), 'stories-F32.gguf'));
    expect(readlinkSync(r.path)).toBe(`../../blobs/${sha256(gguf)}`);
    expect(sha256(readFileSync(r.path))).toBe(sha256(gguf));
    expect(readFileSync(join(repoDir, 'refs', 'main'), 'utf8')).toBe('b'.repeat(40));
    expect(progress).toHaveBeenLastCalledWith({ file: 'stories-F32.gguf', bytesDone: gguf.byteLength, bytesTotal: gguf.byteLength });
    // Again: listing only, no download; offline: no request at all.
    const before = hub.log.length;
    expect((await resolveModelRef('test-org/stories:F32', { cacheDir, endpoint: hub.url })).path).toBe(r.path);
    expect(hub.log.slice(before).filter((l) => l.includes('/resolve/'))).toEqual([]);
    const n = hub.log.length;
    expect((await resolveModelRef('test-org/stories:F32', { cacheDir, offline: true, endpoint: hub.url })).path).toBe(r.path);
    expect(hub.log.length).toBe(n);
  });

  it('an HF checkpoint downloads its config, tokenizer and weights (not the README) and opens', async () => {
    const cacheDir = temp();
    const r = await resolveModelRef('test-org/stories-hf', { cacheDir, endpoint: hub.url });
    expect(r.path).toBe(join(cacheDir, 'models--test-org--stories-hf', 'snapshots', 'c'.repeat(40)));
    expect(existsSync(join(r.path, 'README.md'))).toBe(false);
    const { model, tokenizer } = await openModelFiles(await openLocalModel(r.path));
    expect(tokenizer.vocabSize).toBe(512);
    await model.close();
  });

  it('an interrupted download resumes from the .incomplete file with a Range request', async () => {
    const cacheDir = temp();
    hub.cutAfter.set('stories-F32.gguf', 300_000);
    const e = await failure(resolveModelRef('test-org/stories/stories-F32.gguf', { cacheDir, endpoint: hub.url }));
    expect(e.message).toMatch(/stopped after \d+ of \d+ bytes .*run again to resume/);
    const part = join(cacheDir, 'models--test-org--stories', 'blobs', `${sha256(gguf)}.incomplete`);
    const have = statSync(part).size;
    expect(have).toBeGreaterThan(0);
    const r = await resolveModelRef('test-org/stories/stories-F32.gguf', { cacheDir, endpoint: hub.url });
    const ranged = hub.log.map((l) => / bytes=(\d+)-$/.exec(l)).filter((m) => m !== null);
    expect(ranged).toHaveLength(1);
    expect(Number(ranged[0]![1])).toBeGreaterThanOrEqual(have);
    expect(sha256(readFileSync(r.path))).toBe(sha256(gguf));
    expect(existsSync(part)).toBe(false);
  });

  it('bytes that do not match the Hub\'s hash are thrown away, never used', async () => {
    const cacheDir = temp();
    hub.corrupt.add('stories-Q8_0.gguf');
    const e = await failure(resolveModelRef('test-org/stories:Q8_0', { cacheDir, endpoint: hub.url }));
    expect(e.message).toMatch(/do not match the Hub's hash .*run again/);
    expect(existsSync(join(cacheDir, 'models--test-org--stories', 'blobs', `${sha256(gguf.subarray(0, 4096))}.incomplete`))).toBe(false);
    const r = await resolveModelRef('test-org/stories:Q8_0', { cacheDir, endpoint: hub.url });
    expect(sha256(readFileSync(r.path))).toBe(sha256(gguf.subarray(0, 4096)));
  });

  it('gated, missing repos and missing files are clear errors', async () => {
    const cacheDir = temp();
    expect((await failure(resolveModelRef('test-org/gated', { cacheDir, endpoint: hub.url }))).message).toMatch(/access denied .*HTTP 401.*set HF_TOKEN/);
    expect((await failure(resolveModelRef('test-org/nope', { cacheDir, endpoint: hub.url }))).message).toMatch(/no such model repo or revision/);
    expect((await failure(resolveModelRef('test-org/stories/none.gguf', { cacheDir, endpoint: hub.url }))).message).toMatch(/has no file 'none\.gguf'/);
    expect((await failure(resolveModelRef('test-org/stories', { cacheDir, endpoint: hub.url }))).message).toMatch(/several GGUF files/);
  });
});
