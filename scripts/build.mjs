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
  // Installed as a dependency without dev tools: dist/ ships prebuilt.
  if (existsSync('dist/index.js')) process.exit(0);
  console.error('build: typescript is not installed');
  process.exit(1);
}
rmSync('dist', { recursive: true, force: true });
const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
process.exit(result.status ?? 1);
