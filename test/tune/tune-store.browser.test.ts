import { describe, expect, it } from 'vitest';
import { acquireGpu } from '../../src/gpu/acquire.js';
import { FAMILIES } from '../../src/kernels/conformance.js';
import { createBrowserPlatform } from '../../src/platform/browser/index.js';
import { BrowserTuneStore } from '../../src/platform/browser/tune-store.js';
import { TuneCache } from '../../src/tune/cache.js';
import { adapterStoreKey } from '../../src/tune/key.js';
import { resolveKernelConfigs } from '../../src/tune/resolve.js';
import { fakeDevice, fakeEntry, fakeKey, FAKE_ADAPTER } from './helpers.js';

// The IndexedDB tune store inside Chromium (Vitest browser mode), and one real tuning run on
// the browser's WebGPU (SwiftShader here) that a second resolution finds in IndexedDB.
const fresh = () => new BrowserTuneStore({ dbName: `wgllm-test-${Math.random().toString(36).slice(2)}` });

describe('BrowserTuneStore (IndexedDB)', () => {
  it('gets, sets, lists, deletes and updates', async () => {
    const s = fresh();
    expect(await s.get('a')).toBeUndefined();
    await s.set('a', 'one');
    await s.update('b', (cur) => `${cur ?? 'none'}+two`);
    expect(await s.get('a')).toBe('one');
    expect(await s.get('b')).toBe('none+two');
    expect((await s.keys()).sort()).toEqual(['a', 'b']);
    await s.update('a', () => undefined);
    await s.delete('b');
    expect(await s.keys()).toEqual([]);
  });

  it('merges concurrent writers from two connections', async () => {
    const name = `wgllm-test-${Math.random().toString(36).slice(2)}`;
    const [c1, c2] = await Promise.all([
      TuneCache.open(new BrowserTuneStore({ dbName: name }), fakeDevice()),
      TuneCache.open(new BrowserTuneStore({ dbName: name }), fakeDevice()),
    ]);
    await Promise.all(
      Array.from({ length: 10 }, (_, i) => [c1.record([fakeEntry(fakeKey('k1', `p${i}`))]), c2.record([fakeEntry(fakeKey('k2', `p${i}`))])]).flat(),
    );
    const check = await TuneCache.open(new BrowserTuneStore({ dbName: name }), fakeDevice());
    expect(check.size).toBe(20);
  });

  it('survives a corrupt record with a warning', async () => {
    const s = fresh();
    await s.set(adapterStoreKey(FAKE_ADAPTER), 'garbage{');
    const warnings: string[] = [];
    const cache = await TuneCache.open(s, fakeDevice(), { onWarning: (m) => warnings.push(m) });
    expect(cache.size).toBe(0);
    expect(warnings.join()).toMatch(/not valid JSON/);
    await cache.record([fakeEntry(fakeKey('add'))]);
    expect(JSON.parse((await s.get(adapterStoreKey(FAKE_ADAPTER)))!).entries).toHaveLength(1);
  });

  it('tunes on the browser GPU once; the next resolution hits IndexedDB', async () => {
    const ctx = await acquireGpu(createBrowserPlatform());
    const fam = FAMILIES.find((f) => f.spec.id === 'add')!;
    const workload = [{ spec: fam.spec, shape: fam.small('f32') }];
    const store = fresh();
    const first = await resolveKernelConfigs(ctx, workload, { tune: 'auto', store, budgetMs: 20_000, search: { timing: { samples: 3 } } });
    expect(first.stats.tuningRuns).toBe(1);
    const second = await resolveKernelConfigs(ctx, workload, { tune: 'auto', store });
    expect(second.stats).toMatchObject({ tuningRuns: 0, hits: 1 });
    expect(second.stats.resolveMs).toBeLessThan(50);
    ctx.destroy();
  });
});
