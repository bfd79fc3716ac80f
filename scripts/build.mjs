// Build dist/ (ESM + type declarations) with the TypeScript compiler.
// Runs on `npm install` (prepare) so the package entry points exist.
import { spawnSync } from 'node:child_process';
import { rmSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
let tsc;
try {
  tsc = require.resolve('typescript/bin/tsc');
} catch {
  // Without dev tools (an installed package, or `npm ci --omit=dev` in a clone):
  // an installed package ships dist/ prebuilt; a clone runs its TypeScript
  // sources through tsx (a dependency), so there is nothing to build.
  if (!existsSync('dist/index.js')) console.log('build: typescript is not installed (production install): skipping dist/; `coordinator` runs the sources with tsx');
  process.exit(0);
}
rmSync('dist', { recursive: true, force: true });
const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
process.exit(result.status ?? 1);
