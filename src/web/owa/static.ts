import { readFile, stat } from 'node:fs/promises';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyReply } from 'fastify';

/** dist/ui, next to dist/src where this file runs from (dist/src/web/owa/static.js). */
export const DEFAULT_UI_DIR = fileURLToPath(new URL('../../../ui/', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.webp': 'image/webp',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

/**
 * The app page's policy. Scripts only from us; the reading pane's srcdoc inherits this, so
 * img-src must allow remote images for "Show images" (the pane's own CSP narrows it again);
 * inline styles are needed for sanitised mail.
 */
export const APP_CSP = [
  "default-src 'self'", "script-src 'self'", "style-src 'self' 'unsafe-inline'", "img-src 'self' data: https: http:",
  "connect-src 'self'", "frame-src 'self'", "object-src 'none'", "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'",
].join('; ');

export function securityHeaders(reply: FastifyReply): void {
  reply.header('x-content-type-options', 'nosniff');
  reply.header('referrer-policy', 'no-referrer');
  reply.header('x-frame-options', 'DENY');
  reply.header('strict-transport-security', 'max-age=31536000');
}

/**
 * Serves the built app. Hashed files under assets/ never change, so browsers may keep them
 * for a year; index.html must be revalidated so a new build is picked up at once.
 * Any other path under /owa/ is an app route and gets index.html.
 */
export async function serveUi(uiDir: string, urlPath: string, reply: FastifyReply): Promise<FastifyReply> {
  securityHeaders(reply);
  const root = resolve(uiDir);
  let rel: string;
  try {
    rel = decodeURIComponent(urlPath.split('?')[0]!).replace(/^\/+/, '');
  } catch {
    return reply.code(400).type('text/plain').send('bad path');
  }
  let file = resolve(join(root, rel));
  if (file !== root && !file.startsWith(root + sep)) return reply.code(404).type('text/plain').send('not found');
  let info = await stat(file).catch(() => null);
  if (!info?.isFile()) {
    if (rel.startsWith('assets/')) return reply.code(404).type('text/plain').send('not found');
    rel = 'index.html';
    file = join(root, rel);
    info = await stat(file).catch(() => null);
    if (!info?.isFile()) {
      return reply.code(503).type('text/plain').send('The web mail app is not built on this server (run "npx vite build").');
    }
  }
  const type = TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream';
  reply.type(type);
  if (rel === 'index.html') {
    reply.header('cache-control', 'no-cache');
    reply.header('content-security-policy', APP_CSP);
  } else {
    reply.header('cache-control', rel.startsWith('assets/') ? 'public, max-age=31536000, immutable' : 'public, max-age=3600');
  }
  reply.header('last-modified', info.mtime.toUTCString());
  return reply.send(await readFile(file));
}
