import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import OpenAI from 'openai';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { UsageError } from '../../src/cli/args.js';
import { chatCommand } from '../../src/cli/commands/chat.js';
import { runCommand, type CliIo } from '../../src/cli/commands/run.js';
import { serveCommand, startServe } from '../../src/cli/commands/serve.js';
import { STORIES, STORIES_TEMPLATE } from './helpers.js';

/** `wgllm run`, `chat` and `serve`, called in this process with their output captured. */
function io(input = ''): CliIo & { out: () => string; err: () => string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => (out += d.toString()));
  stderr.on('data', (d: Buffer) => (err += d.toString()));
  const stdin = new PassThrough();
  stdin.end(input);
  return { stdin, stdout, stderr, out: () => out, err: () => err };
}

// Small and exact: f32, a short context, greedy.
const SMALL = ['--act', 'f32', '--max-model-len', '64', '--max-num-seqs', '4'];
const GREEDY = ['-t', '0', '--ignore-eos'];

afterEach(() => vi.unstubAllEnvs());

describe('wgllm run / chat / serve', () => {
  it('--help for each command; bad flags are usage errors', async () => {
    for (const [cmd, first] of [
      [runCommand, 'wgllm run:'],
      [chatCommand, 'wgllm chat:'],
      [serveCommand, 'wgllm serve:'],
    ] as const) {
      const t = io();
      expect(await cmd(['--help'], t)).toBe(0);
      expect(t.out().startsWith(first)).toBe(true);
      expect(t.out()).toMatch(/--model, -m M/);
    }
    await expect(runCommand(['--model', STORIES], io())).rejects.toThrow(UsageError);
    await expect(runCommand(['hi', '--model', STORIES, '--act', 'f8'], io())).rejects.toThrow(/--act must be f16 or f32/);
    await expect(runCommand(['hi', '--model', STORIES, '-n', 'ten'], io())).rejects.toThrow(/--max-tokens takes an integer/);
    await expect(startServe(['--model', STORIES, '--port', '99999'], io())).rejects.toThrow(/--port must be 0\.\.65535/);
    await expect(startServe(['--model', STORIES, '--kv-cache-memory', 'lots'], io())).rejects.toThrow(/a size such as 512MiB/);
  });

  it('run: streams a greedy continuation to stdout, progress and a summary to stderr (model by Hub id from the HF cache, offline)', async () => {
    const cache = mkdtempSync(join(tmpdir(), 'wgllm-cli-'));
    const repo = join(cache, 'models--test-org--stories');
    mkdirSync(join(repo, 'snapshots', 'e'.repeat(40)), { recursive: true });
    mkdirSync(join(repo, 'refs'));
    writeFileSync(join(repo, 'refs', 'main'), 'e'.repeat(40));
    symlinkSync(STORIES, join(repo, 'snapshots', 'e'.repeat(40), 'stories260K.gguf'));
    vi.stubEnv('HF_HUB_CACHE', cache);
    const t = io();
    expect(await runCommand(['Once upon a time', '--model', 'test-org/stories', '--offline', '-n', '8', ...GREEDY, ...SMALL], t)).toBe(0);
    expect(t.out()).toMatch(/^, there was a little girl/);
    expect(t.out().endsWith('\n')).toBe(true);
    expect(t.err()).toMatch(/model loaded in [\d.]+ s/);
    expect(t.err()).toMatch(/\[\d+ prompt \+ 8 generated tokens, .*finish: length\]/);
  });

  it('chat: a conversation through the chat template, with /reset and /exit', async () => {
    const t = io('Once upon a time\nLily went\n/reset\nTom\n/exit\nnever read\n');
    expect(await chatCommand(['--model', STORIES, '--chat-template', STORIES_TEMPLATE, '-n', '4', ...GREEDY, ...SMALL, '-q'], t)).toBe(0);
    const out = t.out();
    expect(out).toMatch(/\(history cleared\)/);
    // Three replies, each after a prompt; nothing after /exit.
    expect(out.split('> ').filter((s) => s.trim() && !s.includes('history cleared'))).toHaveLength(3);
    expect(t.err()).toMatch(/chatting with stories260K\.gguf/);
    // Without a template, stories260K cannot chat: a clear error, not a crash.
    await expect(chatCommand(['--model', STORIES, ...SMALL, '-q'], io('hi\n'))).rejects.toThrow(/has no chat template: give one with --chat-template/);
  });

  it('serve: /health is 503 while loading and 200 after; the API works; stop() drains and frees', async () => {
    const t = io();
    const h = await startServe(['--model', STORIES, '--port', '0', '--served-model-name', 'tiny', '--api-key', 'k', '--log-requests', ...SMALL], t);
    try {
      const early = await fetch(`${h.url}/health`);
      expect([200, 503]).toContain(early.status);
      await h.ready;
      expect((await fetch(`${h.url}/health`)).status).toBe(200);
      const client = new OpenAI({ baseURL: `${h.url}/v1`, apiKey: 'k', maxRetries: 0 });
      const r = await client.completions.create({ model: 'tiny', prompt: 'Once upon a time', max_tokens: 4, temperature: 0 });
      expect(r.choices[0]!.text.length).toBeGreaterThan(0);
      expect((await fetch(`${h.url}/v1/models`)).status).toBe(401);
    } finally {
      expect(await h.stop()).toBe(0);
    }
    await expect(fetch(`${h.url}/health`)).rejects.toThrow();
    expect(t.err()).toMatch(/listening on http:\/\/127\.0\.0\.1:\d+/);
    expect(t.err()).toMatch(/serving 'tiny' at http:\/\/127\.0\.0\.1:\d+\/v1/);
    expect(t.err()).toMatch(/POST \/v1\/completions 200 \d+ ms/);
  });
});
