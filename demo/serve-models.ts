/**
 * A Vite plugin (dev server and preview) that serves local model files under /models/, with
 * HTTP range requests, so the demo can load `?model=/models/stories260K/stories260K.gguf`
 * without copying model files into the repository. Node-only: imported by vite.config.ts.
 */
import { createReadStream, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import type { Plugin } from 'vite';

type Next = (err?: unknown) => void;

const PREFIX = '/models/';

function serve(root: string) {
  // Not mounted with use('/models'): connect would also hand it '/models.ts' and the like.
  return (req: IncomingMessage, res: ServerResponse, next: Next) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    const url = new URL(req.url ?? '/', 'http://x');
    if (!url.pathname.startsWith(PREFIX)) return next();
    let rel: string;
    try {
      rel = decodeURIComponent(url.pathname.slice(PREFIX.length - 1));
    } catch {
      return next();
    }
    const file = path.resolve(root, `.${rel}`);
    // Never serve anything outside the models folder ('..' in the path).
    if (file !== root && !file.startsWith(root + path.sep)) return next();
    let size: number;
    try {
      const st = statSync(file);
      if (!st.isFile()) return next();
      size = st.size;
    } catch {
      res.statusCode = 404;
      res.end('not found');
      return;
    }
    res.setHeader('Accept-Ranges', 'bytes');
    res.setHeader('Content-Type', file.endsWith('.json') ? 'application/json' : 'application/octet-stream');
    res.setHeader('Cache-Control', 'no-cache');
    let start = 0;
    let end = size - 1;
    const m = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '');
    if (m && (m[1] || m[2])) {
      if (m[1]) {
        start = Number(m[1]);
        if (m[2]) end = Math.min(Number(m[2]), size - 1);
      } else start = Math.max(0, size - Number(m[2]));
      if (start > end || start >= size) {
        res.statusCode = 416;
        res.setHeader('Content-Range', `bytes */${size}`);
        res.end();
        return;
      }
      res.statusCode = 206;
      res.setHeader('Content-Range', `bytes ${start}-${end}/${size}`);
    }
    res.setHeader('Content-Length', String(end - start + 1));
    if (req.method === 'HEAD' || size === 0) {
      res.end();
      return;
    }
    createReadStream(file, { start, end }).on('error', next).pipe(res);
  };
}

/** Serves `dir` (when it exists) at `/models/`. */
export function serveModels(dir: string): Plugin {
  const root = path.resolve(dir);
  let exists = false;
  try {
    exists = statSync(root).isDirectory();
  } catch {
    exists = false;
  }
  return {
    name: 'wgllm-serve-models',
    configureServer(server) {
      if (exists) server.middlewares.use(serve(root));
    },
    configurePreviewServer(server) {
      if (exists) server.middlewares.use(serve(root));
    },
  };
}
