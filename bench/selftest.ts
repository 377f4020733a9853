/**
 * `wgllm selftest` (every kernel against its CPU reference) as a standalone script, without the
 * CLI's other commands and their dependencies, for the GPU machine's carried node_modules:
 *   node bench/build.mjs bench/selftest.ts
 *   GPU: bash .gpu/run.sh node bench/dist/selftest.js [selftest options]
 */
import { selftestCommand } from '../src/cli/commands/selftest.js';

process.env.XDG_RUNTIME_DIR ??= '/tmp';
process.exitCode = await selftestCommand(process.argv.slice(2));
