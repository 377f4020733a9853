import { readFileSync } from 'node:fs';
import path from 'node:path';
import { defineConfig } from 'vitest/config';
import { playwright } from '@vitest/browser-playwright';
import { serveModels } from './demo/serve-models.js';
import { DAWN_TOGGLES } from './src/platform/node/gpu.js';

/**
 * One config for the three things Vite does here:
 * - `vite` / `vite build`: the browser chat demo in demo/;
 * - `vite build --mode lib`: the library (Node entry, browser entry, CLI) with WGSL inlined;
 * - `vitest`: two projects running the same suites, in Node (Dawn) and in Chromium (WebGPU).
 */
const DEPENDENCIES = Object.keys((JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8')) as { dependencies: Record<string, string> }).dependencies);
const swiftshaderIcd = '/usr/lib/chromium/vk_swiftshader_icd.json';
const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
// Demo: model fixtures served at /models/ by the dev and preview servers (never copied into the repo).
const modelsDir = process.env.WGLLM_MODELS_DIR ?? path.resolve(import.meta.dirname, '../shared/models');

export default defineConfig(({ mode }) => ({
  // `vite`, `vite build --mode demo`, `vite preview`: the chat demo in demo/ (vitest runs in mode 'test').
  root: mode === 'lib' ? '.' : mode === 'test' ? undefined : path.resolve(import.meta.dirname, 'demo'),
  // Also under vitest: browser-project tests fetch the fixtures from /models/ like the demo does.
  plugins: mode === 'lib' ? [] : [serveModels(modelsDir)],
  // The engine worker is an ES module worker that shares chunks with the page.
  worker: { format: 'es' as const },
  // Dependencies reached only through the engine worker are found late by the dev server's
  // scan, which then reloads the page (or a browser test) mid-run: list them up front.
  optimizeDeps: mode === 'lib' ? {} : { include: ['comlink', 'zod', '@huggingface/jinja', '@huggingface/tokenizers'] },
  build:
    mode === 'lib'
      ? {
          outDir: 'dist',
          emptyOutDir: true,
          target: 'es2022',
          sourcemap: true,
          minify: false,
          lib: {
            entry: {
              index: 'src/index.ts',
              node: 'src/node.ts',
              browser: 'src/browser.ts',
              cli: 'src/cli/main.ts',
            },
            formats: ['es'],
          },
          // Shared code is split into chunks; the CLI entry gets its shebang.
          rollupOptions: {
            output: { chunkFileNames: 'chunks/[name]-[hash].js', banner: (chunk: { name: string }) => (chunk.name === 'cli' ? '#!/usr/bin/env node' : '') },
            // Dependencies stay imports (the package's users install them); only our code is bundled.
            external: (id: string) => id.startsWith('node:') || DEPENDENCIES.some((p) => id === p || id.startsWith(`${p}/`)),
          },
        }
      : { outDir: path.resolve(import.meta.dirname, 'dist-demo'), emptyOutDir: true, target: 'es2022', sourcemap: true },
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: 'node',
          include: ['test/**/*.test.ts'],
          exclude: ['test/**/*.browser.test.ts', 'test/e2e/**'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          env: { VK_ICD_FILENAMES: process.env.VK_ICD_FILENAMES ?? swiftshaderIcd },
        },
      },
      {
        extends: true,
        test: {
          name: 'browser',
          include: ['test/**/*.browser.test.ts'],
          testTimeout: 300_000,
          browser: {
            enabled: true,
            headless: true,
            screenshotFailures: false,
            provider: playwright({
              launchOptions: {
                executablePath: chromium,
                args: [
                  '--enable-unsafe-webgpu',
                  '--use-webgpu-adapter=swiftshader',
                  '--enable-features=Vulkan',
                  // the Node platform's Dawn toggles, so both projects run the same WebGPU (among
                  // them: workgroup memory zeroed by the shader, which SwiftShader compiles far
                  // faster than the Vulkan extension's initializer)
                  ...DAWN_TOGGLES.map((t) => `--${t}`),
                  '--no-sandbox',
                  '--disable-background-networking',
                  '--disable-component-update',
                  '--disable-sync',
                  '--no-first-run',
                ],
              },
            }),
            instances: [{ browser: 'chromium' }],
          },
        },
      },
      {
        // The chat demo end to end: the demo built and served by vite preview, the system Chromium driven by
        // Playwright, stories260K loaded through the page, its greedy output checked.
        extends: true,
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.e2e.test.ts'],
          testTimeout: 240_000,
          hookTimeout: 120_000,
          env: { CHROMIUM_PATH: chromium },
        },
      },
    ],
  },
}));
