import { isWgllmError } from '../core/errors.js';
import { WGLLM_VERSION } from '../version.js';
import { UsageError } from './args.js';
import { chatCommand } from './commands/chat.js';
import { infoCommand } from './commands/info.js';
import { runCommand } from './commands/run.js';
import { selftestCommand } from './commands/selftest.js';
import { serveCommand } from './commands/serve.js';
import { tuneCommand } from './commands/tune.js';

const COMMANDS: Record<string, { run: (argv: string[]) => Promise<number>; summary: string }> = {
  info: { run: infoCommand, summary: 'print the GPU adapter, its features and limits' },
  selftest: { run: selftestCommand, summary: 'check every kernel against its CPU reference on this GPU' },
  tune: { run: tuneCommand, summary: 'tune kernels for this GPU; list, export, import or clear the tune cache' },
  serve: { run: (argv) => serveCommand(argv), summary: 'serve a model over an OpenAI-compatible HTTP API' },
  run: { run: (argv) => runCommand(argv), summary: 'generate once from a prompt, streaming to stdout' },
  chat: { run: (argv) => chatCommand(argv), summary: 'chat with a model in the terminal' },
};

function usage(): string {
  const lines = [`wgllm ${WGLLM_VERSION}: LLM inference on WebGPU`, '', 'Usage: wgllm <command> [options]', '', 'Commands:'];
  for (const [name, c] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(10)} ${c.summary}`);
  lines.push('', "Run 'wgllm <command> --help' for a command's options.");
  return lines.join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name ? 0 : 1;
  }
  if (name === '--version' || name === '-v') {
    console.log(WGLLM_VERSION);
    return 0;
  }
  const cmd = COMMANDS[name];
  if (!cmd) {
    console.error(`wgllm: unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  try {
    return await cmd.run(rest);
  } catch (e) {
    if (e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`wgllm ${name}: ${(e as Error).message}\nRun 'wgllm ${name} --help' for usage.`);
      return 2;
    }
    if (isWgllmError(e)) {
      console.error(`wgllm ${name}: ${e.message}`);
      return 1;
    }
    throw e;
  }
}

// Vulkan loaders complain on stderr when XDG_RUNTIME_DIR is unset (common in containers/CI);
// it is only used for display sockets, which a compute-only program never needs.
process.env.XDG_RUNTIME_DIR ??= '/tmp';
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
