#!/usr/bin/env node
// Launcher for the `coordinator` command: in a source checkout it runs the
// TypeScript source through tsx (always current); installed, the built dist/.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const source = path.join(root, 'bin', 'cli.ts');
let main;
if (existsSync(source)) {
  const { tsImport } = await import('tsx/esm/api');
  ({ main } = await tsImport(pathToFileURL(source).href, import.meta.url));
} else {
  ({ main } = await import(pathToFileURL(path.join(root, 'dist', 'bin', 'cli.js')).href));
}
const code = await main(process.argv.slice(2));
if (code >= 0) {
  process.exitCode = code;
  // A command that ended (a failed start included) exits even if a library left a handle open.
  setTimeout(() => process.exit(code), 500).unref();
}
