import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function tempDir(prefix = 'wgllm-tune-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}
