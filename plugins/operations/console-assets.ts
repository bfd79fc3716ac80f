// The console's static files, served from the package (no build step for the
// user): our script and style sheet from ./console/, and uPlot's browser
// build from its package. Read once at start, then served from memory with
// an ETag.

import { readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type http from 'node:http';

export interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

const require = createRequire(import.meta.url);

const SOURCES: Record<string, { file: () => string; type: string }> = {
  '/dashboard/assets/console.js': { file: () => fileURLToPath(new URL('./console/console.js', import.meta.url)), type: 'text/javascript; charset=utf-8' },
  '/dashboard/assets/console.css': { file: () => fileURLToPath(new URL('./console/console.css', import.meta.url)), type: 'text/css; charset=utf-8' },
  '/dashboard/assets/uplot.js': { file: () => require.resolve('uplot/dist/uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' },
  '/dashboard/assets/uplot.css': { file: () => require.resolve('uplot/dist/uPlot.min.css'), type: 'text/css; charset=utf-8' },
};

export const ASSET_PATHS = Object.keys(SOURCES);

export async function loadAssets(): Promise<Map<string, Asset>> {
  const assets = new Map<string, Asset>();
  await Promise.all(Object.entries(SOURCES).map(async ([route, source]) => {
    const body = await readFile(source.file());
    assets.set(route, { body, type: source.type, etag: `"${createHash('sha1').update(body).digest('base64url')}"` });
  }));
  return assets;
}

export function serveAsset(asset: Asset | undefined, req: http.IncomingMessage, res: http.ServerResponse): void {
  if (!asset) {
    res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8' }).end('Console assets are not loaded yet.');
    return;
  }
  if (req.headers['if-none-match'] === asset.etag) {
    res.writeHead(304, { etag: asset.etag }).end();
    return;
  }
  res.writeHead(200, { 'content-type': asset.type, etag: asset.etag, 'cache-control': 'no-cache', 'content-length': asset.body.length, 'x-content-type-options': 'nosniff' });
  res.end(req.method === 'HEAD' ? undefined : asset.body);
}
