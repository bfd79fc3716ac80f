// Find and load coordinator.config.{ts,mts,js,mjs,cjs,json,yaml,yml} with
// cosmiconfig. TypeScript configs are loaded through tsx's tsImport (faster
// than cosmiconfig's own loader and it follows the config's local imports).

import { pathToFileURL } from 'node:url';
import path from 'node:path';
import { cosmiconfig, type Loader } from 'cosmiconfig';
import { CoordinatorError } from '../errors.js';
import type { CoordinatorConfig } from './types.js';
import { resolveOwnPackageFromConfigs } from './self-resolve.js';

export const MODULE_NAME = 'coordinator';

export interface LoadedConfig {
  config: CoordinatorConfig;
  /** The file it came from; undefined when none was found (embedded defaults). */
  filepath: string | undefined;
}

const loadTypeScript: Loader = async (filepath) => {
  const { tsImport } = await import('tsx/esm/api');
  // The runtime itself, for configs that import 'coordinator-runtime' from outside any project.
  resolveOwnPackageFromConfigs((await import('../../index.js')) as Record<string, unknown>);
  const href = pathToFileURL(filepath).href;
  const mod = (await tsImport(href, { parentURL: href })) as Record<string, unknown>;
  let exports: Record<string, unknown> = mod;
  // Run as CommonJS, the namespace's default is module.exports, which holds the ES exports.
  const inner = mod.default;
  if (inner && typeof inner === 'object' && Object.prototype.hasOwnProperty.call(inner, '__esModule')) exports = inner as Record<string, unknown>;
  const value: unknown = exports.default;
  if (value === undefined) {
    const named = Object.keys(exports).filter((k) => k !== '__esModule' && k !== 'default' && k !== 'module.exports');
    throw new CoordinatorError('ERR_CONFIG', `${filepath} has no default export${named.length > 0 ? ` (it exports ${named.join(', ')})` : ''}: write export default defineConfig({ … })`);
  }
  return typeof value === 'function' ? await (value as () => unknown)() : value;
};

function explorer() {
  return cosmiconfig(MODULE_NAME, {
    searchPlaces: [
      `${MODULE_NAME}.config.ts`, `${MODULE_NAME}.config.mts`, `${MODULE_NAME}.config.js`, `${MODULE_NAME}.config.mjs`,
      `${MODULE_NAME}.config.cjs`, `${MODULE_NAME}.config.json`, `${MODULE_NAME}.config.yaml`, `${MODULE_NAME}.config.yml`,
    ],
    searchStrategy: 'none',
    loaders: { '.ts': loadTypeScript, '.mts': loadTypeScript, '.cts': loadTypeScript, '.js': loadTypeScript, '.mjs': loadTypeScript },
  });
}

/**
 * Load a config: from `file` when given, else from the first config file in
 * `cwd`. No file found → empty config (the embedded defaults).
 */
export async function loadConfig(file?: string, cwd = process.cwd()): Promise<LoadedConfig> {
  const ex = explorer();
  try {
    const result = file ? await ex.load(path.resolve(cwd, file)) : await ex.search(cwd);
    if (!result || result.isEmpty) return { config: {}, filepath: result?.filepath };
    const config = result.config as unknown;
    if (typeof config !== 'object' || config === null || Array.isArray(config)) {
      throw new CoordinatorError('ERR_CONFIG', `${result.filepath}: the config must be an object (export default defineConfig({...}))`);
    }
    return { config: config as CoordinatorConfig, filepath: result.filepath };
  } catch (err) {
    if (err instanceof CoordinatorError) throw err;
    const message = (err as Error).message ?? String(err);
    throw new CoordinatorError('ERR_CONFIG', `cannot load config${file ? ` ${file}` : ''}: ${message}`, { cause: err });
  }
}
