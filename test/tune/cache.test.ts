import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isWgllmError } from '../../src/core/errors.js';
import { NodeTuneStore, tuneCacheDir } from '../../src/platform/node/tune-store.js';
import { exportAllTables, importTables, TuneCache } from '../../src/tune/cache.js';
import { parseTable, tableText } from '../../src/tune/entry.js';
import { adapterStoreKey, keyString, TUNE_SCHEMA } from '../../src/tune/key.js';
import { FAKE_ADAPTER, fakeDevice, fakeEntry, fakeKey } from './helpers.js';
import { tempDir } from './temp-dir.js';

function collect(): { warnings: string[]; onWarning: (m: string) => void } {
  const warnings: string[] = [];
  return { warnings, onWarning: (m) => warnings.push(m) };
}

describe('tune keys', () => {
  it('differ when any part differs', () => {
    const base = fakeKey('add');
    const variants = [
      { ...base, schema: base.schema + 1 },
      { ...base, engine: '9.9.9' },
      { ...base, adapter: { ...base.adapter, vendor: 'other' } },
      { ...base, adapter: { ...base.adapter, architecture: 'other' } },
      { ...base, adapter: { ...base.adapter, device: 'other' } },
      { ...base, adapter: { ...base.adapter, description: 'other' } },
      { ...base, runtime: 'dawn-node/webgpu@9' },
      { ...base, kernel: 'rmsnorm' },
      { ...base, source: 'src1' },
      { ...base, space: 'space1' },
      { ...base, problem: 'f32:n2048' },
    ];
    const all = new Set([keyString(base), ...variants.map(keyString)]);
    expect(all.size).toBe(variants.length + 1);
  });

  it('name one file-safe table per adapter, whatever its description', () => {
    const k = adapterStoreKey({ vendor: 'NVIDIA Corp.', architecture: 'hopper', device: '', description: 'H200 / "PCIe" \\ x' });
    expect(k).toMatch(/^nvidia-corp-hopper-[0-9a-f]{10}$/);
    expect(adapterStoreKey({ ...FAKE_ADAPTER, description: 'b' })).not.toBe(adapterStoreKey({ ...FAKE_ADAPTER, description: 'a' }));
  });

  it('default to the platform cache folders, overridable by WGLLM_CACHE_DIR', () => {
    expect(tuneCacheDir({}, 'linux', '/home/u')).toBe('/home/u/.cache/wgllm/tune');
    expect(tuneCacheDir({ XDG_CACHE_HOME: '/xdg' }, 'linux', '/home/u')).toBe('/xdg/wgllm/tune');
    expect(tuneCacheDir({}, 'darwin', '/Users/u')).toBe('/Users/u/Library/Caches/wgllm/tune');
    expect(tuneCacheDir({ LOCALAPPDATA: 'C:/Users/u/AppData/Local' }, 'win32', 'C:/Users/u')).toMatch(/^C:\/Users\/u\/AppData\/Local[\\/]wgllm[\\/]tune$/);
    expect(tuneCacheDir({ WGLLM_CACHE_DIR: '/srv/cache', XDG_CACHE_HOME: '/xdg' }, 'linux', '/home/u')).toBe('/srv/cache/tune');
  });
});

describe('tune tables', () => {
  it('refuse corrupt text, other formats and other schema versions; drop malformed entries', () => {
    expect(parseTable('{ not json').ok).toBe(false);
    expect(parseTable('[]').ok).toBe(false);
    expect(parseTable(JSON.stringify({ format: 'wgllm-tune', schema: TUNE_SCHEMA + 1, adapter: FAKE_ADAPTER, entries: [] }))).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/schema version/),
    });
    const good = fakeEntry(fakeKey('add'));
    const r = parseTable(JSON.stringify({ format: 'wgllm-tune', schema: TUNE_SCHEMA, adapter: FAKE_ADAPTER, entries: [good, { key: 1 }, null] }));
    expect(r).toMatchObject({ ok: true, dropped: 2 });
  });
});

describe('TuneCache on the Node store', () => {
  it('writes readable JSON, one file per adapter, and reads it back in a new process-like open', async () => {
    const dir = tempDir();
    const store = new NodeTuneStore({ dir });
    const cache = await TuneCache.open(store, fakeDevice());
    await cache.record([fakeEntry(fakeKey('add', 'f32:n1024')), fakeEntry(fakeKey('rmsnorm', 'f32:rows8:len333'))]);
    const file = join(dir, `${adapterStoreKey(FAKE_ADAPTER)}.json`);
    const text = readFileSync(file, 'utf8');
    expect(text).toContain('\n  "entries": [');
    expect(JSON.parse(text).entries).toHaveLength(2);
    const again = await TuneCache.open(new NodeTuneStore({ dir }), fakeDevice());
    expect(again.lookup(fakeKey('add', 'f32:n1024'))?.config).toEqual({ wg: 64 });
    expect(again.lookup(fakeKey('add', 'f32:n2048'))).toBeUndefined();
    expect(again.lookup(fakeKey('add', 'f32:n1024', FAKE_ADAPTER, { source: 'edited' }))).toBeUndefined();
  });

  it('survives a corrupt file: warns, starts empty, and rebuilds it on the next write', async () => {
    const dir = tempDir();
    const file = join(dir, `${adapterStoreKey(FAKE_ADAPTER)}.json`);
    writeFileSync(file, '{"format": "wgllm-tune", "entries": [ truncated');
    const w = collect();
    const cache = await TuneCache.open(new NodeTuneStore({ dir }), fakeDevice(), w);
    expect(cache.size).toBe(0);
    expect(w.warnings.join('\n')).toMatch(/not valid JSON.*rebuilt/);
    await cache.record([fakeEntry(fakeKey('add'))]);
    const r = parseTable(readFileSync(file, 'utf8'));
    expect(r.ok && r.table.entries.length).toBe(1);
  });

  it('ignores a table of another schema version with a warning, and replaces it', async () => {
    const dir = tempDir();
    const file = join(dir, `${adapterStoreKey(FAKE_ADAPTER)}.json`);
    const foreign = { format: 'wgllm-tune', schema: 999, adapter: FAKE_ADAPTER, entries: [{ ...fakeEntry(fakeKey('add')), key: { ...fakeKey('add'), schema: 999 } }] };
    writeFileSync(file, JSON.stringify(foreign));
    const w = collect();
    const cache = await TuneCache.open(new NodeTuneStore({ dir }), fakeDevice(), w);
    expect(cache.size).toBe(0);
    expect(w.warnings.join('\n')).toMatch(/schema version 999/);
    await cache.record([fakeEntry(fakeKey('rmsnorm'))]);
    const table = JSON.parse(readFileSync(file, 'utf8'));
    expect(table.schema).toBe(TUNE_SCHEMA);
    expect(table.entries.map((e: { key: { kernel: string } }) => e.key.kernel)).toEqual(['rmsnorm']);
  });

  it('never crashes on an unusable cache folder: warns and keeps results in memory', async () => {
    const dir = tempDir();
    const notADir = join(dir, 'file');
    writeFileSync(notADir, 'x');
    const w = collect();
    const cache = await TuneCache.open(new NodeTuneStore({ dir: notADir }), fakeDevice(), w);
    await cache.record([fakeEntry(fakeKey('add'))]);
    expect(cache.lookup(fakeKey('add'))).toBeDefined();
    expect(w.warnings.some((m) => /could not write/.test(m))).toBe(true);
  });

  it('breaks a lock left by a dead process or an old one, and times out on a live one', async () => {
    const dir = tempDir();
    const store = new NodeTuneStore({ dir, lockTimeoutMs: 300, lockStaleMs: 60_000 });
    const lock = join(dir, 'k.json.lock');
    const { hostname } = await import('node:os');
    // A pid that has exited: a finished child's.
    const child = spawn(process.execPath, ['-e', '']);
    const deadPid = await new Promise<number>((r) => child.on('exit', () => r(child.pid!)));
    writeFileSync(lock, JSON.stringify({ pid: deadPid, host: hostname() }));
    await store.set('k', 'one');
    expect(await store.get('k')).toBe('one');
    expect(existsSync(lock)).toBe(false);

    writeFileSync(lock, JSON.stringify({ pid: 1, host: hostname() })); // alive (init), foreign
    const err = await store.set('k', 'two').catch((e: unknown) => e);
    expect(isWgllmError(err, 'internal') && /locked/.test(err.message)).toBe(true);
    const old = (Date.now() - 120_000) / 1000;
    utimesSync(lock, old, old);
    await store.set('k', 'three');
    expect(await store.get('k')).toBe('three');
  });

  it('two Node processes writing at once leave a valid file with both sets of entries', async () => {
    const dir = tempDir();
    const count = 15;
    const startAt = Date.now() + 2500; // both processes have loaded by then
    const run = (id: string) =>
      new Promise<string>((resolve, reject) => {
        const p = spawn(process.execPath, ['-e', "import('vite').then((v) => v.runnerImport('./test/tune/fixtures/writer.ts')).catch((e) => { console.error(e); process.exit(1); })"], {
          env: { ...process.env, WRITER_ID: id, TUNE_DIR: dir, START_AT: String(startAt), COUNT: String(count) },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let out = '';
        p.stdout.on('data', (d) => (out += d));
        p.stderr.on('data', (d) => (out += d));
        p.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`writer ${id} exited ${code}: ${out}`))));
      });
    const outs = await Promise.all([run('a'), run('b')]);
    expect(outs.join('')).toMatch(/writer a done[\s\S]*|writer b done/);
    expect(outs.join('')).not.toMatch(/warning|could not/i);
    const r = parseTable(readFileSync(join(dir, `${adapterStoreKey(FAKE_ADAPTER)}.json`), 'utf8'));
    expect(r.ok).toBe(true);
    const kernels = r.ok ? r.table.entries.map((e) => `${e.key.kernel}/${e.key.problem}`) : [];
    expect(kernels.filter((k) => k.startsWith('kernel-a/'))).toHaveLength(count);
    expect(kernels.filter((k) => k.startsWith('kernel-b/'))).toHaveLength(count);
  }, 60_000);
});

describe('export and import', () => {
  it('keep full keys: another GPU\'s entries go to its own table and never match here', async () => {
    const other = { vendor: 'nvidia', architecture: 'hopper', device: 'h200', description: 'NVIDIA H200' };
    const src = new NodeTuneStore({ dir: tempDir() });
    await (await TuneCache.open(src, fakeDevice())).record([fakeEntry(fakeKey('add'))]);
    await (await TuneCache.open(src, fakeDevice(other))).record([fakeEntry(fakeKey('add', 'f32:n1024', other), { wg: 1024 })]);
    const { bundle } = await exportAllTables(src);
    expect(bundle.tables).toHaveLength(2);

    const dst = new NodeTuneStore({ dir: tempDir() });
    const mine = await TuneCache.open(dst, fakeDevice());
    await mine.record([fakeEntry(fakeKey('rmsnorm'), { wg: 32 }, 0.5, '2000-01-01T00:00:00.000Z')]);
    const r = await importTables(dst, JSON.stringify(bundle));
    expect(r.entries).toBe(2);
    expect((await dst.keys()).sort()).toEqual([adapterStoreKey(FAKE_ADAPTER), adapterStoreKey(other)].sort());
    await mine.reload();
    expect(mine.size).toBe(2); // its own rmsnorm + the imported add of the same adapter
    expect(mine.lookup(fakeKey('add'))?.config).toEqual({ wg: 64 });
    const theirs = await TuneCache.open(dst, fakeDevice(other));
    expect(theirs.lookup(fakeKey('add', 'f32:n1024', other))?.config).toEqual({ wg: 1024 });

    // A single exported table imports the same way; on equal keys the newer entry wins.
    const table = mine.exportTable();
    table.entries = [fakeEntry(fakeKey('rmsnorm'), { wg: 128 }, 0.4)];
    await importTables(dst, tableText(table));
    await mine.reload();
    expect(mine.lookup(fakeKey('rmsnorm'))?.config).toEqual({ wg: 128 });
  });
});
