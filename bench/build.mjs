// Bundles a benchmark script (TypeScript, WGSL imported with ?raw) into plain JS for Node:
//   node bench/build.mjs [bench/matmul.ts ...]   ->  bench/dist/<name>.js  (git-ignored)
// Dependencies (webgpu, ...) stay external: run from the project root, or with .gpu/run.sh on
// the GPU machine (it links node_modules).
import { build } from 'vite';
import { basename } from 'node:path';

const entries = process.argv.slice(2).length ? process.argv.slice(2) : ['bench/matmul.ts'];
for (const entry of entries) {
  await build({
    configFile: false,
    logLevel: 'warn',
    build: {
      ssr: entry,
      outDir: 'bench/dist',
      emptyOutDir: false,
      target: 'node20',
      minify: false,
      sourcemap: false,
      rollupOptions: { output: { entryFileNames: `${basename(entry, '.ts')}.js`, format: 'es' } },
    },
  });
  console.log(`built bench/dist/${basename(entry, '.ts')}.js`);
}
