import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import { homedir, hostname } from 'node:os';
import { join } from 'node:path';
import { WgllmError } from '../../core/errors.js';
import type { TuneStore } from '../../tune/store.js';

export interface NodeTuneStoreOptions {
  /** the folder holding the tables; default: tuneCacheDir() */
  dir?: string;
  /** a lock older than this is taken to belong to a crashed process (default 30 s) */
  lockStaleMs?: number;
  /** give up waiting for the lock after this long (default 20 s) */
  lockTimeoutMs?: number;
}

/**
 * The wgllm cache root: $WGLLM_CACHE_DIR, else the platform's user cache folder
 * ($XDG_CACHE_HOME or ~/.cache on Linux, ~/Library/Caches on macOS, %LOCALAPPDATA% on Windows).
 */
export function wgllmCacheDir(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform, home = homedir()): string {
  if (env.WGLLM_CACHE_DIR) return env.WGLLM_CACHE_DIR;
  if (platform === 'darwin') return join(home, 'Library', 'Caches', 'wgllm');
  if (platform === 'win32') return join(env.LOCALAPPDATA || join(home, 'AppData', 'Local'), 'wgllm');
  return join(env.XDG_CACHE_HOME || join(home, '.cache'), 'wgllm');
}

/** Where the tune tables live: <cache root>/tune. */
export function tuneCacheDir(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform, home = homedir()): string {
  return join(wgllmCacheDir(env, platform, home), 'tune');
}

const errno = (e: unknown) => (e as NodeJS.ErrnoException)?.code;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errno(e) === 'EPERM'; // exists, owned by someone else
  }
}

/**
 * Tune tables as readable JSON files, one per adapter (`<dir>/<key>.json`). Reads are lock-free
 * (files are only ever replaced by rename, so a reader sees the old or the new table, never
 * half of one). Every change is a read-modify-write under `<key>.json.lock` (created with O_EXCL;
 * a lock whose owner died on this host, or older than lockStaleMs, is broken), written to a
 * temporary file, fsynced and renamed over the table: two processes tuning at once both keep
 * their entries, and a crash mid-write leaves the previous table intact.
 */
export class NodeTuneStore implements TuneStore {
  readonly dir: string;
  private readonly staleMs: number;
  private readonly timeoutMs: number;

  constructor(opts: NodeTuneStoreOptions = {}) {
    this.dir = opts.dir ?? tuneCacheDir();
    this.staleMs = opts.lockStaleMs ?? 30_000;
    this.timeoutMs = opts.lockTimeoutMs ?? 20_000;
  }

  get location(): string {
    return this.dir;
  }

  path(key: string): string {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(key)) throw new WgllmError('invalid_argument', `tune store key '${key}' is not a safe file name`);
    return join(this.dir, `${key}.json`);
  }

  async get(key: string): Promise<string | undefined> {
    try {
      return await readFile(this.path(key), 'utf8');
    } catch (e) {
      if (errno(e) === 'ENOENT') return undefined;
      throw e;
    }
  }

  async set(key: string, value: string): Promise<void> {
    await this.update(key, () => value);
  }

  async delete(key: string): Promise<void> {
    await this.update(key, () => undefined);
  }

  async keys(): Promise<string[]> {
    try {
      return (await readdir(this.dir)).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5));
    } catch (e) {
      if (errno(e) === 'ENOENT') return [];
      throw e;
    }
  }

  async update(key: string, fn: (current: string | undefined) => string | undefined): Promise<void> {
    const file = this.path(key);
    await mkdir(this.dir, { recursive: true });
    const release = await this.lock(`${file}.lock`);
    try {
      const next = fn(await this.get(key));
      if (next === undefined) {
        await unlink(file).catch((e) => {
          if (errno(e) !== 'ENOENT') throw e;
        });
        return;
      }
      const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
      const fh = await open(tmp, 'w');
      try {
        await fh.writeFile(next, 'utf8');
        await fh.sync();
      } finally {
        await fh.close();
      }
      try {
        await rename(tmp, file);
      } catch (e) {
        await unlink(tmp).catch(() => {});
        throw e;
      }
    } finally {
      await release();
    }
  }

  private async lock(lockPath: string): Promise<() => Promise<void>> {
    const deadline = Date.now() + this.timeoutMs;
    const token = `${JSON.stringify({ pid: process.pid, host: hostname(), at: new Date().toISOString() })}\n`;
    for (let attempt = 0; ; attempt++) {
      try {
        const fh = await open(lockPath, 'wx');
        try {
          await fh.writeFile(token, 'utf8');
        } finally {
          await fh.close();
        }
        return async () => {
          await unlink(lockPath).catch(() => {});
        };
      } catch (e) {
        if (errno(e) !== 'EEXIST') throw e;
      }
      if (await this.isStale(lockPath)) {
        await unlink(lockPath).catch(() => {});
        continue;
      }
      if (Date.now() > deadline) {
        throw new WgllmError(
          'internal',
          `The tune cache is locked (${lockPath}) and the lock was not released within ${this.timeoutMs / 1000} s. ` +
            'If no other wgllm process is running, delete that file.',
        );
      }
      await sleep(Math.min(100, 5 * 2 ** Math.min(attempt, 4)) * (0.5 + Math.random()));
    }
  }

  /** A lock is stale when its owner (on this host) is gone, or when it is older than staleMs. */
  private async isStale(lockPath: string): Promise<boolean> {
    try {
      const [st, text] = await Promise.all([stat(lockPath), readFile(lockPath, 'utf8')]);
      if (Date.now() - st.mtimeMs > this.staleMs) return true;
      const owner = JSON.parse(text) as { pid?: unknown; host?: unknown };
      return owner.host === hostname() && typeof owner.pid === 'number' && owner.pid !== process.pid && !pidAlive(owner.pid);
    } catch {
      return false; // vanished, or being written right now: just retry
    }
  }
}

export function createNodeTuneStore(opts: NodeTuneStoreOptions = {}): NodeTuneStore {
  return new NodeTuneStore(opts);
}
