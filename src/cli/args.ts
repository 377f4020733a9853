import { parseArgs, type ParseArgsConfig } from 'node:util';

/** Shared by every command: how to pick and configure the GPU. */
export const GPU_OPTIONS = {
  adapter: { type: 'string' },
  'power-preference': { type: 'string' },
  'no-f16': { type: 'boolean' },
} as const satisfies ParseArgsConfig['options'];

export const GPU_OPTIONS_HELP = `GPU options:
  --adapter NAME            use the adapter whose name contains NAME (Dawn adapter option)
  --power-preference P      high-performance (default) or low-power
  --no-f16                  do not request shader-f16 (forces the f32 activation path)`;

export function parse<O extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: O) {
  return parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
}

export class UsageError extends Error {}
