import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A Hugging Face Hub stand-in on loopback, with the three calls model resolution makes: a
 * revision's commit, the repo tree, and file downloads with Range requests. It can cut a
 * download short (to test resume) and counts what it served.
 */
export interface FakeRepo {
  commit: string;
  files: Record<string, Uint8Array>;
  /** answer every call for this repo with this status (401 gated, ...) */
  status?: number;
}

export interface FakeHub {
  url: string;
  /** requests served, as "METHOD path [range]" */
  log: string[];
  /** the next download of this path stops after this many bytes */
  cutAfter: Map<string, number>;
  /** the next download of this path has one byte changed */
  corrupt: Set<string>;
  close(): Promise<void>;
}

export const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const gitOid = (b: Uint8Array) => createHash('sha1').update(`blob ${b.byteLength}\0`).update(b).digest('hex');
const LFS_MIN = 1024;

export async function startFakeHub(repos: Record<string, FakeRepo>): Promise<FakeHub> {
  const log: string[] = [];
  const cutAfter = new Map<string, number>();
  const corrupt = new Set<string>();
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = decodeURIComponent(url.pathname);
    log.push(`${req.method} ${path}${req.headers.range ? ` ${req.headers.range}` : ''}`);
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const api = /^\/api\/models\/([^/]+\/[^/]+)\/(revision|tree)\/([^/]+)$/.exec(path);
    const dl = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(path);
    const repo = repos[(api ?? dl)?.[1] ?? ''];
    if (!repo) return json(404, { error: 'Repository not found' });
    if (repo.status) return json(repo.status, { error: 'Access to this model is restricted' });
    if (api?.[2] === 'revision') return json(200, { id: api[1], sha: repo.commit, siblings: Object.keys(repo.files).map((rfilename) => ({ rfilename })) });
    if (api?.[2] === 'tree') {
      return json(
        200,
        Object.entries(repo.files).map(([p, b]) => ({
          type: 'file',
          path: p,
          size: b.byteLength,
          oid: gitOid(b),
          ...(b.byteLength >= LFS_MIN ? { lfs: { oid: sha256(b), size: b.byteLength, pointerSize: 134 } } : {}),
        })),
      );
    }
    const file = dl ? repo.files[dl[3]!] : undefined;
    if (!dl || !file) return json(404, { error: 'Entry not found' });
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const start = m ? Number(m[1]) : 0;
    if (start >= file.byteLength && m) {
      res.writeHead(416, { 'content-range': `bytes */${file.byteLength}` });
      return res.end();
    }
    let body = file.subarray(start);
    if (corrupt.delete(dl[3]!)) {
      body = body.slice();
      const mid = body.byteLength >> 1;
      body[mid] = body[mid]! ^ 0xff;
    }
    res.writeHead(m ? 206 : 200, {
      'content-length': String(body.byteLength),
      ...(m ? { 'content-range': `bytes ${start}-${file.byteLength - 1}/${file.byteLength}` } : {}),
      etag: `"${sha256(file)}"`,
    });
    const cut = cutAfter.get(dl[3]!);
    if (cut !== undefined) {
      cutAfter.delete(dl[3]!);
      res.write(body.subarray(0, cut), () => setTimeout(() => res.destroy(), 20));
      return;
    }
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    log,
    cutAfter,
    corrupt,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** A loopback port with nothing listening (connections are refused at once). */
export async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
