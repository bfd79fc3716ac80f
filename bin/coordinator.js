#!/usr/bin/env node
// Launcher for the `coordinator` command: in a source checkout with its dev
// tools it runs the TypeScript source through tsx (always current); otherwise
// (installed, or a checkout pruned for production) the built dist/.
import { existsSync, readdirSync, statSync } from 'node:fs';
import v8 from 'node:v8';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';

// Loading the modules and starting make much garbage that survives a scavenge or two, and V8 then
// grows the young generation (to 16 MiB, most of it touched) for good. Held at its first size
// until the coordinator is ready (bin/startup-heap.ts lets it grow again then): ~5 MiB less idle RSS.
v8.setFlagsFromString('--semi-space-growth-factor=1');

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const source = path.join(root, 'bin', 'cli.ts');
const built = path.join(root, 'dist', 'bin', 'cli.js');
const require = createRequire(import.meta.url);
const hasTsx = (() => { try { require.resolve('tsx/esm/api'); return true; } catch { return false; } })();
/** dist/ is current when no source file is newer than it (a checkout right after install or build). */
function distIsCurrent() {
  if (!existsSync(built)) return false;
  const builtAt = statSync(path.join(root, 'dist', 'index.js')).mtimeMs;
  const newer = (dir) => readdirSync(dir, { withFileTypes: true }).some((entry) => {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) return entry.name !== 'node_modules' && newer(file);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') && statSync(file).mtimeMs > builtAt;
  });
  return !['core', 'plugins', 'testing'].some((d) => existsSync(path.join(root, d)) && newer(path.join(root, d)))
    && !['index.ts', 'bin/cli.ts'].some((f) => existsSync(path.join(root, f)) && statSync(path.join(root, f)).mtimeMs > builtAt);
}

let main;
if (existsSync(source) && hasTsx && !distIsCurrent()) {
  // A checkout with its dev tools and sources newer than dist/: run the sources.
  const { tsImport } = await import('tsx/esm/api');
  ({ main } = await tsImport(pathToFileURL(source).href, import.meta.url));
} else if (existsSync(built)) {
  // Compiled JavaScript: an installed package, or a checkout whose dist/ is current (faster start, less memory).
  ({ main } = await import(pathToFileURL(built).href));
} else {
  process.stderr.write('coordinator: this checkout has neither dist/ nor tsx to run its sources.\n'
    + 'Install with its build tools, then drop them: npm ci && npm prune --omit=dev\n');
  process.exit(1);
}
const code = await main(process.argv.slice(2));
if (code >= 0) {
  process.exitCode = code;
  // A command that ended (a failed start included) exits even if a library left a handle open.
  setTimeout(() => process.exit(code), 500).unref();
}
