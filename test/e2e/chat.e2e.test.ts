import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright';
import { build, preview, type PreviewServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { modelPath, readJson } from '../support/models.js';

// The chat demo end to end: the demo is built (as `npm run build` does) and served by Vite's
// preview server on 127.0.0.1, with ../shared/models at /models/; the system Chromium (SwiftShader
// WebGPU, no browser download) loads stories260K through the page and the engine's Web Worker.
// The reply must be the reference greedy output, the same ids the Node engine test holds the
// in-process engine to (test/engine/engine.test.ts), so browser and Node agree token for token.

const root = path.resolve(import.meta.dirname, '../..');
const outDir = path.join(root, 'test-results/e2e/demo');
const shots = path.join(root, 'test-results/e2e');
const ref = readJson<{ prompt: { text: string; input_ids: number[]; greedy_32: { output_ids: number[]; text: string } } }>('stories260K/reference-outputs.json');
const expectedIds = ref.prompt.greedy_32.output_ids.slice(ref.prompt.input_ids.length);

let server: PreviewServer;
let browser: Browser;
let base: string;

beforeAll(async () => {
  const config = { configFile: path.join(root, 'vite.config.ts'), mode: 'demo', logLevel: 'warn' as const };
  await build({ ...config, build: { outDir, emptyOutDir: true, sourcemap: false } });
  server = await preview({ ...config, build: { outDir }, preview: { host: '127.0.0.1', port: 0, strictPort: false, open: false } });
  base = `http://127.0.0.1:${(server.httpServer.address() as AddressInfo).port}`;
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: ['--enable-unsafe-webgpu', '--use-webgpu-adapter=swiftshader', '--enable-features=Vulkan', '--no-sandbox', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
  mkdirSync(shots, { recursive: true });
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

async function openPage(query: string): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${base}/${query}`);
  return { page, errors };
}

async function waitReady(page: Page): Promise<void> {
  await page.waitForSelector('#status[data-state="ready"], #status[data-state="error"]', { timeout: 120_000 });
  const state = await page.getAttribute('#status', 'data-state');
  if (state !== 'ready') throw new Error(`the demo failed to load the model: ${await page.textContent('#error')}`);
}

/** Sends `text` greedily and returns the reply's token ids, text and finish reason. */
async function sendGreedy(page: Page, text: string, maxTokens: number) {
  await page.fill('#max-tokens', String(maxTokens));
  await page.fill('#temperature', '0');
  await page.fill('#input', text);
  await page.click('#send');
  const reply = page.locator('.msg.assistant').last();
  await reply.and(page.locator('[data-finish]')).waitFor({ timeout: 120_000 });
  return {
    ids: ((await reply.getAttribute('data-token-ids')) ?? '').split(',').filter(Boolean).map(Number),
    promptIds: ((await reply.getAttribute('data-prompt-ids')) ?? '').split(',').filter(Boolean).map(Number),
    text: (await reply.locator('.text').textContent()) ?? '',
    finish: await reply.getAttribute('data-finish'),
  };
}

describe('chat demo in headless Chromium (SwiftShader WebGPU)', () => {
  it('loads stories260K from a URL and streams the reference greedy reply', async () => {
    const { page, errors } = await openPage('?model=/models/stories260K/stories260K.gguf&act=f32');
    await waitReady(page);
    // The adapter and its features are on the page.
    await expect.poll(() => page.locator('#adapter [data-feature]').count()).toBe(3);
    expect(await page.getAttribute('#adapter [data-act]', 'data-act')).toBe('f32');
    // No chat template: the demo switched to raw completion.
    expect(await page.isChecked('input[name="mode"][value="raw"]')).toBe(true);

    const r = await sendGreedy(page, ref.prompt.text, 32);
    expect(r.promptIds).toEqual(ref.prompt.input_ids);
    expect(r.ids).toEqual(expectedIds);
    expect(r.finish).toBe('length');
    expect(ref.prompt.text + r.text).toBe(ref.prompt.greedy_32.text);
    expect(Number(await page.getAttribute('#stats', 'data-tokens-per-second'))).toBeGreaterThan(0);
    await page.screenshot({ path: path.join(shots, 'chat-url.png'), fullPage: true });

    // The download is in the model cache, listed with a way to delete it.
    const cached = page.locator('#cache-list li[data-url$="/models/stories260K/stories260K.gguf"]');
    await expect.poll(() => cached.count()).toBe(1);
    await cached.locator('button').click();
    await expect.poll(() => cached.count()).toBe(0);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('opens a .gguf picked as a local file and stops a reply on request', async () => {
    const { page, errors } = await openPage('');
    await page.waitForSelector('#status[data-state="idle"]');
    await page.setInputFiles('#pick-files', modelPath('stories260K/stories260K.gguf'));
    await waitReady(page);
    expect(await page.textContent('#model-name')).toContain('stories260K.gguf');
    const r = await sendGreedy(page, ref.prompt.text, 8);
    expect(r.ids).toEqual(expectedIds.slice(0, 8));

    // Stop: a long reply is aborted mid-stream and marked as stopped.
    await page.fill('#max-tokens', '400');
    await page.fill('#input', 'Once upon a time');
    await page.click('#send');
    const reply = page.locator('.msg.assistant').last();
    await expect.poll(async () => ((await reply.getAttribute('data-token-ids')) ?? '').split(',').length, { timeout: 60_000 }).toBeGreaterThan(2);
    await page.click('#stop');
    await reply.and(page.locator('[data-finish]')).waitFor({ timeout: 60_000 });
    expect(await reply.getAttribute('data-finish')).toBe('abort');
    await page.screenshot({ path: path.join(shots, 'chat-file.png'), fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  });

  it('chats with a picked Hugging Face folder through its chat template', async () => {
    // tiny-smollm2: random weights, the real SmolLM2 tokenizer and ChatML template. Its recorded
    // HF greedy reply to this conversation is ' dance' repeated; a wrong template would differ.
    const chatRef = readJson<{ prompts: { name: string; messages?: { content: string }[]; hf: { greedy: { ids: number[]; text: string } } }[] }>(
      'tiny-smollm2/reference.json',
    ).prompts.find((p) => p.name === 'chat_default_system')!;
    const { page, errors } = await openPage('?act=f32');
    await page.waitForSelector('#status[data-state="idle"]');
    await page.setInputFiles('#pick-folder', modelPath('tiny-smollm2'));
    await waitReady(page);
    expect(await page.isChecked('input[name="mode"][value="chat"]')).toBe(true);
    const r = await sendGreedy(page, chatRef.messages![0]!.content, 6);
    expect(r.finish).toBe('length');
    expect(r.text).toBe(' dance'.repeat(6));
    expect(chatRef.hf.greedy.text.startsWith(r.text)).toBe(true);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('says in plain words when the browser has no WebGPU', async () => {
    const page = await browser.newPage();
    await page.addInitScript(() => Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined }));
    await page.goto(base);
    await page.waitForSelector('#error:not([hidden])');
    expect(await page.getAttribute('#error', 'data-code')).toBe('no_webgpu');
    expect(await page.textContent('#error')).toContain('This browser has no WebGPU');
    await page.screenshot({ path: path.join(shots, 'no-webgpu.png') });
    await page.close();
  });
});
