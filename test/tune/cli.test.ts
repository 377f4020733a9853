import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { isWgllmError } from '../../src/core/errors.js';
import { tuneCommand } from '../../src/cli/commands/tune.js';
import { UsageError } from '../../src/cli/args.js';
import { tempDir } from './temp-dir.js';

/** Runs `wgllm tune ...` in this process and returns its exit code and printed lines. */
async function tune(...argv: string[]): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const spy = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void lines.push(a.join(' ')));
  try {
    return { code: await tuneCommand(argv), out: lines.join('\n') };
  } finally {
    spy.mockRestore();
  }
}

afterEach(() => vi.restoreAllMocks());

describe('wgllm tune', () => {
  it('tunes the families, lists, exports, clears and imports', async () => {
    const root = tempDir();
    const c = ['--cache-dir', root];
    const t = await tune('--families', '--tiny', '--kernel', 'add', '--path', 'f32', '--budget', '5', '--verbose', ...c);
    expect(t.code).toBe(0);
    expect(t.out).toMatch(/\[1\/1\] add f32:n1024: \d+ candidates/);
    expect(t.out).toMatch(/-> \{"wg":\d+\}/);

    const again = await tune('--families', '--tiny', '--kernel', 'add', '--path', 'f32', ...c);
    expect(again.out).toMatch(/1 kernel problems: 1 in the cache, 0 to tune/);

    const list = await tune('--list', ...c);
    expect(list.out).toMatch(/1 entries for /);
    expect(list.out).toMatch(/^add\s+f32:n1024\s.*\sok\s/m);

    const file = join(root, 'export.json');
    expect((await tune('--export', file, ...c)).out).toMatch(/wrote 1 entries/);
    expect(JSON.parse(readFileSync(file, 'utf8')).entries).toHaveLength(1);
    expect((await tune('--clear', ...c)).out).toMatch(/removed 1 entries/);
    expect((await tune('--list', ...c)).out).toMatch(/0 entries for /);
    expect((await tune('--import', file, ...c)).out).toMatch(/imported 1 entries/);
    expect((await tune('--list', '--kernel', 'add', ...c)).out).toMatch(/1 entries for /);

    const bundle = join(root, 'all.json');
    expect((await tune('--export', bundle, '--all', ...c)).out).toMatch(/wrote 1 adapter tables \(1 entries\)/);
    expect((await tune('--clear', '--all', ...c)).out).toMatch(/cleared 1 adapter tables/);
  });

  it('writes the tuned-vs-default bench report', async () => {
    const root = tempDir();
    const out = join(root, 'bench.json');
    const r = await tune('--families', '--tiny', '--kernel', 'swiglu', '--path', 'f32', '--budget', '5', '--bench', out, '--cache-dir', root);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/geometric-mean speedup/);
    const report = JSON.parse(readFileSync(out, 'utf8'));
    // --kernel matches ids by substring: swiglu and its variant swiglu.quant-x
    expect(report.rows.map((row: { kernel: string }) => row.kernel)).toEqual(['swiglu', 'swiglu.quant-x']);
    for (const row of report.rows) {
      expect(row).toMatchObject({ from: 'tuned' });
      expect(row.speedup).toBeGreaterThan(0);
    }
    expect(report.geomeanSpeedup).toBeGreaterThan(0);
  });

  it('explains usage errors and a missing model file', async () => {
    expect((await tune('--help')).out).toMatch(/--families[\s\S]*--budget SECONDS[\s\S]*--import FILE/);
    await expect(tuneCommand([])).rejects.toBeInstanceOf(UsageError);
    await expect(tuneCommand(['--list', '--clear'])).rejects.toBeInstanceOf(UsageError);
    const err = await tuneCommand(['--model', 'x.gguf']).catch((e: unknown) => e);
    expect(isWgllmError(err, 'not_found')).toBe(true);
  });

  it('tunes every kernel a model builds (--model), then finds them all in the cache', async () => {
    const root = tempDir();
    const model = join(__dirname, '../../../shared/models/stories260K/stories260K.gguf');
    const args = ['--model', model, '--path', 'f32', '--kernel', 'rmsnorm', '--max-model-len', '64', '--max-batched-tokens', '32', '--cache-dir', root];
    const t = await tune(...args, '--budget', '10');
    expect(t.code).toBe(0);
    expect(t.out).toMatch(/kernel problems: 0 in the cache, [1-9]\d* to tune/);
    const again = await tune(...args);
    expect(again.out).toMatch(/kernel problems: (\d+) in the cache, 0 to tune/);
  });
});
